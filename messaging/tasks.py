"""Gateway tasks: thin wrappers that load ids, call one service and own the retry policy.
(The inbound sweeper and voice transcription, `messaging.sweep_inbound` and
`messaging.voice_transcribe`, live in assistant.tasks and ai.tasks under their old names.)"""

from __future__ import annotations

from typing import Any

import structlog
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from messaging import ingest, number, poller, sender
from messaging.models import GatewayState, Message
from messaging.wappi import WappiError, client_from_settings
from messaging.wire import parse_webhook
from project.lib.retry import DATABASE_RETRY

log = structlog.get_logger(__name__)

# Countdowns above this are not scheduled in the broker (Redis redelivers long ETAs); the
# row's next_attempt_at is the record and the sweeper picks it up.
MAX_COUNTDOWN = 300


@shared_task(name="messaging.ingest_webhook", ignore_result=True, **DATABASE_RETRY)
def ingest_webhook(payload: Any) -> None:
    """A webhook body as Wappi sent it; idempotent (provider ids are unique). Retried while the
    database is unreachable (the payload exists nowhere else until the poller sees it)."""
    ingest.ingest_events(events=parse_webhook(payload), via=Message.Via.WEBHOOK)


@shared_task(name="messaging.poll_wappi", ignore_result=True)
def poll_wappi() -> str:
    report = poller.poll_once(client=client_from_settings())
    if report.changed or report.error or report.quarantined:
        log.info("poll.cycle", summary=report.summary())
    return report.summary()


@shared_task(name="messaging.send_outgoing", bind=True, ignore_result=True, max_retries=None)
def send_outgoing(self: Any, message_id: int) -> str:
    try:
        return sender.outbox_send(message_id=message_id, client=client_from_settings()).status
    except sender.SendLater as later:
        if later.delay <= MAX_COUNTDOWN:
            raise self.retry(countdown=later.delay) from later
        return "deferred"


@shared_task(name="messaging.reconcile_outgoing", ignore_result=True)
def reconcile_outgoing(message_id: int) -> str:
    message = Message.objects.select_related("contact").filter(pk=message_id, status=Message.Status.SENDING).first()
    if message is None:
        return "nothing to do"
    outcome = sender.outbox_reconcile(message=message, client=client_from_settings())
    if outcome.status == "requeued":
        send_outgoing.delay(message_id)
    return outcome.status


@shared_task(name="messaging.sweep_outbox", ignore_result=True)
def sweep_outbox() -> str:
    """Losing the broker loses nothing: rows are re-enqueued from the database."""
    queued, stuck = sender.outbox_due()
    # Expiring: sweeps run every minute, and a backlog of identical tasks helps nobody.
    for pk in queued:
        send_outgoing.apply_async((pk,), expires=300)
    for pk in stuck:
        reconcile_outgoing.apply_async((pk,), expires=300)
    if queued or stuck:
        log.info("outbox.swept", requeued=len(queued), reconciling=len(stuck))
    return f"requeued={len(queued)} reconciling={len(stuck)}"


@shared_task(name="messaging.check_wappi_status", ignore_result=True)
def check_wappi_status() -> str:
    """Records Wappi's health on GatewayState (shown on /health). When it is healthy again
    after a failed check, the rows that failed for good during the outage are sent again. The
    number-safety governor weighs the number's standing after every check (messaging.number)."""
    before = GatewayState.objects.filter(pk=1).first()
    was_down = before is not None and (before.authorized is False or bool(before.auth_error))
    try:
        status = client_from_settings().get_status()
    except WappiError as exc:
        GatewayState.objects.update_or_create(
            pk=1,
            defaults={
                "auth_error": str(exc)[:500],
                "auth_checked_at": timezone.now(),
                **({"authorized": False} if not exc.retryable else {}),
            },
        )
        if not exc.retryable:  # a refused token or profile; a network blip is no reason to pause
            number.number_authorization_changed(online=False, detail=type(exc).__name__)
        return f"error: {exc}"
    # One transaction: if the recovery fails, the state still says "down" and the next check
    # recovers again, instead of the outage's rows staying failed behind a healthy state.
    with transaction.atomic():
        GatewayState.objects.update_or_create(
            pk=1,
            defaults={
                "authorized": status.healthy,
                "auth_error": "" if status.healthy else status.app_status,
                "auth_checked_at": timezone.now(),
            },
        )
        redriven = sender.outbox_recover_from_outage() if status.healthy and was_down else []
        for pk in redriven:
            transaction.on_commit(lambda pk=pk: send_outgoing.apply_async((pk,), expires=300), robust=True)
    # The number's standing: a logged-out profile pauses proactive sending, a healthy one lifts a
    # pause whose time is up (messaging.number).
    number.number_health_check(healthy=status.healthy, detail=f"app_status {status.app_status or '?'}")
    return "healthy" if status.healthy else f"unhealthy: {status.app_status}"
