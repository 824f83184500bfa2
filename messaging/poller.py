"""Polling: the safety net behind the webhook.

One cycle lists the chats (one call), keeps the private chats whose last activity is newer
than our per-chat cursor, and reads only those (one `messages/get` each, serialised per
profile by the client). API calls per cycle grow with the number of changed chats, not with
the number of chats. A changed chat whose newest message the webhook already stored is read once
it has been quiet for POLL_SETTLE_SECONDS (during a flood every busy chat changes every cycle),
and what a read finds already stored is not ingested again. A chat answering 400/404 is
quarantined for a day; 429/5xx/timeouts
end the cycle and back the poller off. New installations do not answer history: a chat
first seen with no activity since polling began is only remembered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from contacts.phones import JidKind, PhoneError, parse_jid
from messaging.ingest import IngestReport, ingest_events
from messaging.models import ChatCursor, GatewayState, Message
from messaging.selectors import QUARANTINE_ALARM_KEY
from messaging.wappi import WappiAuthError, WappiClient, WappiPermanentError, WappiTransientError
from messaging.wire import WappiMessage, parse_sync_message
from project.lib.locks import LockTimeout, cache_lock

log = structlog.get_logger(__name__)

QUARANTINE = timedelta(hours=24)
QUARANTINE_ALARM = 3  # this many quarantined in one cycle means token/profile trouble
PAGE = 20
# A chat with more new messages than this between two polls is read this far and a warning
# logged (the webhook will have delivered them; this is the safety net).
MAX_PAGES = 25
# A cycle stops starting new chats after this long (the rest wait for the next cycle), so it
# always ends well within the poll lock's lifetime.
CYCLE_BUDGET_SECONDS = 60.0
POLL_LOCK_TTL = 180
# A changed chat whose newest message the webhook already stored is read once it has been quiet
# this long, not every cycle of a flood (a message of it whose webhook was lost is caught then).
POLL_SETTLE_SECONDS = 30
BACKOFF_MAX_SECONDS = 300.0
ALARM_KEY = QUARANTINE_ALARM_KEY  # /health reads it through messaging.selectors.gateway_status


@dataclass
class PollReport:
    skipped: str = ""  # why the cycle did not run (locked, backing off)
    chats: int = 0
    changed: int = 0
    settling: int = 0  # changed chats left for a later cycle: their newest message is stored, they are busy
    api_calls: int = 0
    quarantined: list[str] = field(default_factory=list)
    error: str = ""
    ingest: IngestReport = field(default_factory=IngestReport)

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        return (
            f"chats={self.chats} changed={self.changed} api_calls={self.api_calls} stored={len(self.ingest.stored)} "
            f"duplicates={self.ingest.duplicates} operator={self.ingest.operator} quarantined={len(self.quarantined)}"
            + (f" settling={self.settling}" if self.settling else "")
            + (f" error={self.error}" if self.error else "")
        )


def poll_once(*, client: WappiClient, now: datetime | None = None) -> PollReport:
    """Runs one cycle unless another is running (never two polls at once)."""
    try:
        with cache_lock("wappi:poll", ttl=POLL_LOCK_TTL, wait=0):
            return _poll(client=client, now=now or timezone.now())
    except LockTimeout:
        return PollReport(skipped="another poll is running")


def _poll(*, client: WappiClient, now: datetime) -> PollReport:
    state = GatewayState.load()
    if state.backoff_until and state.backoff_until > now:
        return PollReport(skipped=f"backing off until {state.backoff_until.isoformat()}")
    if state.started_at is None:
        state.started_at = now
        state.save(update_fields=["started_at"])
    baseline = int(state.started_at.timestamp())

    report = PollReport()
    try:
        dialogs = client.chats_filter()
        report.api_calls += 1
        report.chats = len(dialogs)
        cursors = {c.chat_id: c for c in ChatCursor.objects.all()}
        changed: list[tuple[dict, ChatCursor, int, str]] = []
        for dialog in dialogs:
            chat_id, last_time = _private_chat(dialog)
            if chat_id is None:
                continue
            last_id = str(dialog.get("last_message_id") or "")[:128]
            cursor = cursors.get(chat_id)
            if cursor is None and last_time <= baseline:
                # First sight of a chat quiet since polling began: remembered, not answered.
                ChatCursor.objects.create(chat_id=chat_id, last_time=last_time, last_message_id=last_id)
                continue
            if cursor is None:
                cursor = ChatCursor(chat_id=chat_id, last_time=baseline)
            # Several messages can share one second: the same second with another last
            # message is a change too.
            if last_time < cursor.last_time or (last_time == cursor.last_time and last_id == cursor.last_message_id):
                continue
            if cursor.quarantined_until and cursor.quarantined_until > now:
                continue
            changed.append((dialog, cursor, last_time, last_id))
        # The webhook keeps up: a chat whose newest message is stored and that is still busy is
        # read once it settles, not every cycle of a flood (the cursor stays, so it comes back).
        delivered = _known_ids({last_id for *_, last_id in changed if last_id})
        started = time.monotonic()
        for dialog, cursor, last_time, last_id in changed:
            if last_id in delivered and now.timestamp() - last_time < POLL_SETTLE_SECONDS:
                report.settling += 1
                continue
            if time.monotonic() - started > CYCLE_BUDGET_SECONDS:
                report.error = "cycle budget spent; the remaining chats are read next cycle"
                break
            report.changed += 1
            _read_chat(client=client, cursor=cursor, dialog=dialog, last_time=last_time, now=now, report=report)
    except WappiAuthError as exc:
        report.error = f"auth: {exc}"
        GatewayState.objects.filter(pk=1).update(authorized=False, auth_error=str(exc)[:500], auth_checked_at=now)
        log.error("poll.auth_failed", error=str(exc))
        return report
    except WappiTransientError as exc:
        report.error = str(exc)
        _back_off(state, exc, now)
        return report

    # A successful cycle also proves the token and profile work.
    GatewayState.objects.filter(pk=1).update(
        last_poll_at=now,
        last_poll_error="",
        backoff_until=None,
        backoff_seconds=0,
        authorized=True,
        auth_error="",
        auth_checked_at=now,
    )
    if len(report.quarantined) >= QUARANTINE_ALARM:
        cache.set(
            ALARM_KEY, {"at": now.isoformat(), "chats": report.quarantined}, timeout=int(QUARANTINE.total_seconds())
        )
        log.error("poll.quarantine_alarm", quarantined=len(report.quarantined), chats=report.quarantined[:10])
    return report


def _private_chat(dialog: dict) -> tuple[str | None, int]:
    raw_id = str(dialog.get("id") or "")
    if dialog.get("isGroup"):
        return None, 0
    try:
        jid = parse_jid(raw_id)
    except PhoneError:
        return None, 0
    if jid.kind is not JidKind.PHONE:
        return None, 0
    try:
        last_time = int(float(dialog.get("last_time") or 0))
    except (TypeError, ValueError):
        last_time = 0
    return f"{jid.user}@c.us", last_time


def _read_chat(
    *, client: WappiClient, cursor: ChatCursor, dialog: dict, last_time: int, now: datetime, report: PollReport
) -> None:
    """Reads the chat's newest messages back to the cursor and ingests the new ones."""
    fresh: list = []
    known: set[str] = set()  # of `fresh`, the ids already stored
    try:
        for page in range(MAX_PAGES):
            batch = client.messages_get(chat_id=cursor.chat_id, limit=PAGE, offset=page * PAGE)
            report.api_calls += 1
            events = [parse_sync_message(raw) for raw in batch]
            # `>=`: the cursor's own second may hold messages we have not seen; ids dedupe.
            newer = [e for e in events if not isinstance(e, WappiMessage) or e.sent_at.timestamp() >= cursor.last_time]
            fresh.extend(newer)
            ids = {e.provider_id for e in newer if isinstance(e, WappiMessage)}
            known_here = _known_ids(ids)
            known |= known_here
            # Stop at the cursor, at a short page, or when the page is all known already.
            if len(batch) < PAGE or len(newer) < len(events) or (ids and known_here == ids):
                break
        else:
            log.warning("poll.page_limit", cursor_id=cursor.pk, read=MAX_PAGES * PAGE)
    except WappiPermanentError as exc:
        if isinstance(exc, WappiAuthError):
            raise
        cursor.quarantined_until = now + QUARANTINE
        cursor.failures += 1
        cursor.last_error = str(exc)[:500]
        cursor.save()
        report.quarantined.append(cursor.chat_id)
        log.warning("poll.chat_quarantined", cursor_id=cursor.pk, error=str(exc))
        return
    # What the webhook already delivered is not ingested again: a chat polled during a flood
    # holds mostly known messages, and ingesting them would lock their contacts for nothing.
    report.ingest.duplicates += len(known)
    fresh = [e for e in fresh if not (isinstance(e, WappiMessage) and e.provider_id in known)]
    if fresh:
        # Oldest first, so a burst is stored in the order it was written.
        fresh.sort(key=lambda e: e.sent_at if isinstance(e, WappiMessage) else now)
        report.ingest.merge(ingest_events(events=fresh, via=Message.Via.POLL, now=now))
    cursor.last_time = last_time
    cursor.last_message_id = str(dialog.get("last_message_id") or "")[:128]
    cursor.polled_at = now
    cursor.failures = 0
    cursor.last_error = ""
    cursor.quarantined_until = None
    cursor.save()


def _known_ids(ids: set[str]) -> set[str]:
    """Of these provider ids, the ones already stored (by the webhook, an earlier poll, our send)."""
    if not ids:
        return set()
    return set(Message.objects.filter(provider_message_id__in=ids).values_list("provider_message_id", flat=True))


def _back_off(state: GatewayState, exc: WappiTransientError, now: datetime) -> None:
    seconds = min(BACKOFF_MAX_SECONDS, max(5.0, state.backoff_seconds * 2 or 5.0))
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        seconds = max(seconds, float(retry_after))
    GatewayState.objects.filter(pk=1).update(
        backoff_seconds=seconds, backoff_until=now + timedelta(seconds=seconds), last_poll_error=str(exc)[:500]
    )
    log.warning("poll.backing_off", seconds=seconds, error=str(exc))


def poll_state_forget(*, chat_ids: list[str]) -> int:
    """A forgotten contact's chats: their cursors go (the chat is met again as a new one), and
    after the commit the cached quarantine alarm no longer lists them. Returns the cursors
    deleted."""
    deleted = ChatCursor.objects.filter(chat_id__in=chat_ids).delete()[0]

    def scrub_alarm() -> None:
        alarm = cache.get(ALARM_KEY)
        if alarm and any(chat in chat_ids for chat in alarm.get("chats", [])):
            alarm["chats"] = [chat for chat in alarm["chats"] if chat not in chat_ids]
            cache.set(ALARM_KEY, alarm, timeout=int(QUARANTINE.total_seconds()))

    transaction.on_commit(scrub_alarm)
    return deleted
