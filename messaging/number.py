"""The number-safety governor: our WhatsApp number's standing, from the account signals.

Wappi is a linked WhatsApp device. Writing to strangers, sending too fast or to numbers that are
not on WhatsApp gets such a number restricted ("reach-out timelock") or banned. What the
governor does with what it hears:

- a logged-out profile (an `authorization_status` "offline" webhook, or a `get/status` probe that
  is not authorised) pauses all proactive sending until the profile is healthy again;
- a delivery status saying the number is restricted or temporarily banned pauses it for at least
  NUMBER_RESTRICTION_PAUSE_HOURS, and counts a restriction event;
- NUMBER_UNDELIVERED_BURST undelivered messages within 15 minutes pause it the same way;
- more than PROACTIVE_UNANSWERED_SHARE of the week's proactive messages left unanswered (with
  at least PROACTIVE_UNANSWERED_MIN_SAMPLE of them) pauses it until the share is back below.

The pause is one persisted row (messaging.models.NumberState), read by the proactive gate when
a message is planned and again by the sender when it is sent: it acts at once, for every kind of
proactive message, and for the call reminders customers booked (held at send time). The
managers are told once per pause (messaging.notify), /health shows it, and the status check
(`messaging.check_wappi_status`, every few minutes) lifts it by itself once
Wappi is healthy and the pause's cooling-off time has passed. Replies to customers who write
are never paused here (the sender's pacing applies to them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import contact_is_whitelisted
from messaging.models import NumberState
from messaging.notify import managers_notify
from messaging.selectors import UNDELIVERED_WINDOW, contact_wrote_first, proactive_reply_ratio, undelivered_since
from messaging.wappi import WappiClient, WappiError, client_from_settings
from project.lib.tallies import tally_add

log = structlog.get_logger(__name__)

Reason = NumberState.Reason

# Delivery statuses (messaging.wire) that say WhatsApp holds the number back, not the recipient.
RESTRICTION_STATUSES = frozenset({"temporary ban", "restricted", "banned", "ban"})
# /metrics counts the pauses by reason (project.lib.tallies; the restriction events are on the row).
NUMBER_PAUSE_TALLY = "number_pauses"
ALERT_QUIET = timedelta(hours=6)
# The order in which reasons override one another: a restriction outranks a burst.
_RANK = {Reason.RESTRICTED: 4, Reason.LOGGED_OUT: 3, Reason.UNDELIVERED: 2, Reason.REPLY_RATIO: 1, "": 0}
_ALERT = {
    Reason.LOGGED_OUT: "WhatsApp-номер отключён от Wappi: проактивные сообщения остановлены. "
    "Подключите телефон в кабинете Wappi",
    Reason.RESTRICTED: "WhatsApp ограничил наш номер: проактивные сообщения остановлены",
    Reason.UNDELIVERED: "Много недоставленных сообщений подряд: проактивные сообщения остановлены",
    Reason.REPLY_RATIO: "Клиенты не отвечают на проактивные сообщения: рассылка остановлена, "
    "чтобы номер не заблокировали",
}


def number_pause(*, reason: str, detail: str = "", until: datetime | None = None, now: datetime | None = None) -> bool:
    """Pauses proactive sending for `reason` (kept as it is when a weightier reason holds it
    already; a longer cooling-off time is kept). Tells the managers once per pause. Returns True
    when this call paused a running number or changed the reason."""
    now = now or timezone.now()
    with transaction.atomic():
        NumberState.objects.get_or_create(pk=1)
        state = NumberState.objects.select_for_update().get(pk=1)
        if state.paused and _RANK[state.paused_reason] >= _RANK[reason]:
            if state.paused_reason == reason and until and (state.paused_until is None or until > state.paused_until):
                state.paused_until = until
                state.save(update_fields=["paused_until"])
            return False
        state.paused_reason = reason
        state.paused_detail = detail[:300]
        state.paused_at = now
        state.paused_until = max(filter(None, [until, state.paused_until])) if (until or state.paused_until) else None
        state.save(update_fields=["paused_reason", "paused_detail", "paused_at", "paused_until"])
        # Once per pause; a phone that logs out and back in every few minutes (Wappi's re-auth
        # blips) does not flood the managers: one notice per reason in ALERT_QUIET.
        if cache.add(f"number:alerted:{reason}", 1, timeout=int(ALERT_QUIET.total_seconds())):
            managers_notify(
                contact=None,
                who="Номер WhatsApp компании",
                reason=_ALERT[reason],
                summary=detail or str(Reason(reason).label),
                key=f"number-paused:{reason}:{now:%Y%m%dT%H%M%S.%f}",
            )
    tally_add(NUMBER_PAUSE_TALLY, {"reason": reason})
    log.warning("number.paused", reason=reason, detail=detail[:200], until=until.isoformat() if until else None)
    return True


def number_resume(*, now: datetime | None = None) -> bool:
    """Lifts the pause if its cooling-off time has passed (the caller knows Wappi is healthy).
    A reply-ratio pause lifts only when the share is back under the threshold. True if lifted."""
    now = now or timezone.now()
    state = NumberState.objects.filter(pk=1).first()
    if state is None or not state.paused:
        return False
    if state.paused_until and state.paused_until > now:
        return False
    if state.paused_reason == Reason.REPLY_RATIO and _too_many_unanswered(now=now):
        return False
    lifted = NumberState.objects.filter(pk=1, paused_reason=state.paused_reason, paused_at=state.paused_at).update(
        paused_reason="", paused_detail="", paused_at=None, paused_until=None
    )
    if lifted:
        log.info("number.resumed", reason=state.paused_reason)
    return bool(lifted)


def number_authorization_changed(*, online: bool, detail: str = "", now: datetime | None = None) -> None:
    """Wappi said the profile is logged in or out (an `authorization_status` webhook, a status probe)."""
    now = now or timezone.now()
    if not online:
        number_pause(reason=Reason.LOGGED_OUT, detail=detail or "profile logged out", now=now)
        return
    state = NumberState.load()
    if state.connected_at is None or state.paused_reason == Reason.LOGGED_OUT:
        # A profile linked again is a new device: the warm-up ramp (if on) starts over.
        NumberState.objects.filter(pk=1).update(connected_at=now)
    if state.paused_reason == Reason.LOGGED_OUT:
        number_resume(now=now)


def number_delivery_failed(*, status: str, now: datetime | None = None) -> None:
    """WhatsApp reported one of our messages undelivered (`status` as Wappi words it)."""
    now = now or timezone.now()
    if status in RESTRICTION_STATUSES:
        NumberState.objects.get_or_create(pk=1)
        with transaction.atomic():
            state = NumberState.objects.select_for_update().get(pk=1)
            state.restriction_events += 1
            state.last_restriction_at = now
            state.save(update_fields=["restriction_events", "last_restriction_at"])
        until = now + timedelta(hours=settings.NUMBER_RESTRICTION_PAUSE_HOURS)
        number_pause(reason=Reason.RESTRICTED, detail=f"delivery status: {status}", until=until, now=now)
        return
    burst = undelivered_since(since=now - UNDELIVERED_WINDOW)
    if burst >= settings.NUMBER_UNDELIVERED_BURST:
        until = now + timedelta(hours=settings.NUMBER_RESTRICTION_PAUSE_HOURS)
        number_pause(
            reason=Reason.UNDELIVERED,
            detail=f"{burst} undelivered within {int(UNDELIVERED_WINDOW.total_seconds() // 60)} min",
            until=until,
            now=now,
        )


def number_health_check(*, healthy: bool, detail: str = "", now: datetime | None = None) -> None:
    """The periodic look (after each Wappi status probe): a profile that is not healthy pauses;
    a healthy one lifts a pause whose time is up; the week's reply ratio is weighed."""
    now = now or timezone.now()
    number_authorization_changed(online=healthy, detail=detail, now=now)
    if not healthy:
        return
    if _too_many_unanswered(now=now):
        sent, unanswered = proactive_reply_ratio(now=now)
        number_pause(
            reason=Reason.REPLY_RATIO, detail=f"{unanswered} of {sent} proactive messages unanswered in 7 days", now=now
        )
        return
    number_resume(now=now)


def _too_many_unanswered(*, now: datetime) -> bool:
    sent, unanswered = proactive_reply_ratio(now=now)
    return sent >= settings.PROACTIVE_UNANSWERED_MIN_SAMPLE and unanswered / sent > settings.PROACTIVE_UNANSWERED_SHARE


# --- An operator writing to a number that never wrote to us ------------------------------------


class RecipientRefused(Exception):
    """An operator's message to this number is not queued (operator_recipient_check)."""


class Whitelisted(RecipientRefused):
    """The number is on the whitelist of the owners' personal numbers: nobody writes to it."""


class NotOnWhatsApp(RecipientRefused):
    """Wappi's contact/check says the number has no WhatsApp account: writing to it would count
    against the number (WhatsApp's reach-out limits), so the message is refused."""


def operator_recipient_check(*, phone: str) -> None:
    """The one check before an operator's message to `phone` is queued (the API's send, the
    admin's operator message): Whitelisted for an owner's personal number, NotOnWhatsApp for a
    number that never wrote and that Wappi finds without WhatsApp (number_reach_check)."""
    if contact_is_whitelisted(phone=phone):
        raise Whitelisted(f"{phone} is whitelisted")
    number_reach_check(phone=phone)


def number_reach_check(*, phone: str, client: WappiClient | None = None) -> None:
    """Before an operator's message to `phone` is queued (the API's send, the admin's operator
    message): a number that has written to us passes at once; any other is asked of Wappi's
    contact/check, and NotOnWhatsApp is raised when it is not on WhatsApp. When Wappi cannot
    answer (down, not configured) the message is let through: the sender's cap on new chats a day
    still bounds what an outage can cost."""
    contact = Contact.objects.filter(phone=phone).first()
    if contact is not None and contact_wrote_first(contact=contact):
        return
    try:
        on_whatsapp = (client or client_from_settings()).contact_check(phone=phone)
    except WappiError as exc:
        log.warning("number.reach_unchecked", error=type(exc).__name__)
        return
    if not on_whatsapp:
        log.info("number.reach_refused", phone_tail=phone[-4:])
        raise NotOnWhatsApp(f"{phone} is not on WhatsApp")
