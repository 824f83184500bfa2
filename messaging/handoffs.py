"""Hand-offs on the channel's side: the record (messaging.models.HandOff), the managers' brief
going out, the deadline (a reminder to the managers, then the owner's escalation numbers), the
one "the manager knows" line to a customer who writes again, and the record's close when the
assistant takes the chat back. Who writes the brief is the assistant's business
(assistant.handoff); this module only sends what it is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from contacts.models import Contact
from messaging.models import HandOff, Message
from messaging.notify import contact_line, notice_send
from messaging.signals import handoff_opened
from project.lib.public_url import public_base_url
from project.lib.worktime import add_working_minutes

log = structlog.get_logger(__name__)


def handoff_due(start: datetime) -> datetime:
    """HANDOFF_ANSWER_MINUTES working minutes after `start` (working hours in TIMEZONE, no
    weekends or public holidays)."""
    return add_working_minutes(
        start,
        settings.HANDOFF_ANSWER_MINUTES,
        tz=ZoneInfo(settings.TIME_ZONE),
        start_hour=settings.WORKING_HOURS_START,
        end_hour=settings.WORKING_HOURS_END,
    )


def admin_link(contact: Contact) -> str:
    """The contact's card in the admin, absolute on the public base URL (project.lib.public_url)
    when there is one."""
    return f"{public_base_url()}{reverse('admin:contacts_contact_change', args=[contact.pk])}"


def handoff_open(*, contact: Contact, message: Message | None, reason: str, key: str, now: datetime) -> HandOff:
    """Records a hand-off of `contact` (idempotent per `key`: the second call returns the first
    record). An earlier open hand-off of the contact is closed as superseded. After the commit
    `handoff_opened` is sent (the assistant writes and sends the managers' brief)."""
    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk").first()
        existing = HandOff.objects.filter(key=key).first()
        if existing is not None:
            return existing
        HandOff.objects.filter(contact=contact, closed_at__isnull=True).update(
            closed_at=now, closed_reason=HandOff.Closed.SUPERSEDED
        )
        handoff = HandOff.objects.create(
            contact=contact, message=message, key=key[:128], reason=reason[:255], opened_at=now, due_at=handoff_due(now)
        )
    transaction.on_commit(lambda: _announce(handoff.pk), robust=True)
    log.info("handoff.opened", handoff_id=handoff.pk, contact_id=contact.pk, due_at=handoff.due_at.isoformat())
    return handoff


def _announce(handoff_id: int) -> None:
    for receiver, result in handoff_opened.send_robust(sender=HandOff, handoff_id=handoff_id):
        if isinstance(result, Exception):
            log.error(
                "handoff.announce_failed",
                handoff_id=handoff_id,
                receiver=f"{receiver.__module__}.{receiver.__qualname__}",
                exc_info=result,
            )


def handoff_brief_send(*, handoff: HandOff, text: str, by: str, now: datetime) -> int:
    """Sends the brief `text` (written by "model" or "template") to every manager, once per
    hand-off, and keeps it on the record. Returns how many managers it was queued for (0 when
    it went out before)."""
    with transaction.atomic():
        claimed = HandOff.objects.filter(pk=handoff.pk, brief_sent_at__isnull=True).update(
            brief=text, brief_by=by, brief_sent_at=now
        )
        if not claimed:
            return 0
        queued = notice_send(text=text, key=f"handoff-brief:{handoff.pk}")
    if not queued:
        log.warning("handoff.no_managers", handoff_id=handoff.pk, contact_id=handoff.contact_id)
    log.info("handoff.brief_sent", handoff_id=handoff.pk, contact_id=handoff.contact_id, by=by, managers=queued)
    return queued


def handoffs_without_brief(*, before: datetime) -> list[int]:
    """Open hand-offs opened before `before` whose brief has not gone out (its task was lost)."""
    return list(
        HandOff.objects.filter(closed_at__isnull=True, brief_sent_at__isnull=True, opened_at__lt=before)
        .order_by("opened_at")
        .values_list("pk", flat=True)[:100]
    )


def handoff_customer_told(*, contact: Contact, now: datetime) -> bool:
    """Claims the one "the manager knows" line of the contact's open hand-off: True once per
    hand-off, while no person has answered yet; False otherwise."""
    return bool(
        HandOff.objects.filter(
            contact=contact, closed_at__isnull=True, answered_at__isnull=True, customer_told_at__isnull=True
        ).update(customer_told_at=now)
    )


def handoff_customer_told_release(*, contact: Contact, at: datetime) -> None:
    """Gives back a claim of handoff_customer_told made at `at` whose line was not queued (the
    customer wrote again meanwhile: the burst's next run says it)."""
    HandOff.objects.filter(contact=contact, closed_at__isnull=True, customer_told_at=at).update(customer_told_at=None)


@dataclass(frozen=True)
class CheckReport:
    closed: int = 0
    reminded: int = 0
    escalated: int = 0


def handoffs_check(*, now: datetime) -> CheckReport:
    """The periodic look at open hand-offs (assistant.check_handoffs):
    - a hand-off whose contact the assistant has back (the humans' silence ran out, or an operator
      resumed the chat) is closed, with when and why;
    - one nobody answered by its due time: the managers are reminded (once);
    - one still unanswered HANDOFF_ANSWER_MINUTES working minutes after that: the owner's
      HANDOFF_ESCALATION_PHONES are told (once).
    Returns what it did."""
    closed = reminded = escalated = 0
    open_ = HandOff.objects.filter(closed_at__isnull=True).select_related("contact")
    back_to_bot = open_.filter(
        Q(contact__bot_mode=Contact.BotMode.AI) | Q(contact__paused_until__isnull=False, contact__paused_until__lte=now)
    )
    for handoff in back_to_bot[:500]:
        contact = handoff.contact
        if contact.bot_mode == Contact.BotMode.AI:
            at, why = now, HandOff.Closed.OPERATOR
        else:
            at, why = contact.paused_until, HandOff.Closed.RESUMED
        closed += HandOff.objects.filter(pk=handoff.pk, closed_at__isnull=True).update(closed_at=at, closed_reason=why)
        log.info("handoff.closed", handoff_id=handoff.pk, contact_id=contact.pk, reason=why)
    for handoff in open_.filter(answered_at__isnull=True, reminded_at__isnull=True, due_at__lte=now)[:500]:
        if not HandOff.objects.filter(pk=handoff.pk, reminded_at__isnull=True).update(reminded_at=now):
            continue
        minutes = round((now - handoff.opened_at).total_seconds() / 60)
        text = (
            f"⏰ Клиент ждёт ответа менеджера уже {minutes} мин.\n"
            f"Клиент: {contact_line(handoff.contact)}\n"
            f"Причина: {handoff.reason}\n"
            f"Ответьте ему в WhatsApp. Карточка: {admin_link(handoff.contact)}"
        )
        notice_send(text=text, key=f"handoff-remind:{handoff.pk}")
        reminded += 1
        log.warning("handoff.reminded", handoff_id=handoff.pk, contact_id=handoff.contact_id, minutes=minutes)
    for handoff in open_.filter(answered_at__isnull=True, reminded_at__isnull=False, escalated_at__isnull=True)[:500]:
        if handoff_due(handoff.due_at) > now:
            continue
        if not HandOff.objects.filter(pk=handoff.pk, escalated_at__isnull=True).update(escalated_at=now):
            continue
        minutes = round((now - handoff.opened_at).total_seconds() / 60)
        text = (
            f"‼️ Клиенту никто не ответил за {minutes} мин. после передачи менеджеру.\n"
            f"Клиент: {contact_line(handoff.contact)}\n"
            f"Причина: {handoff.reason}\n"
            f"Карточка: {admin_link(handoff.contact)}"
        )
        queued = notice_send(text=text, key=f"handoff-escalate:{handoff.pk}", phones=settings.HANDOFF_ESCALATION_PHONES)
        escalated += 1
        log.warning(
            "handoff.escalated", handoff_id=handoff.pk, contact_id=handoff.contact_id, minutes=minutes, queued=queued
        )
    return CheckReport(closed=closed, reminded=reminded, escalated=escalated)
