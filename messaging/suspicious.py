"""Suspicious activity: what an operator should look at before it costs money or the number.

Each kind is detected where its event happens, by a small function called there once:
floods and very long messages from one contact and new contacts (ingest), webhook requests with
a wrong secret (the webhook view), sends that failed for good (the sender), an invoice below the
list price (payments' invoice service), a day's model spend far above the usual (ai's usage
accounting). Those in higher layers call `suspicious_report` with their own finding.

A report is logged, counted (`suspicious_events_total{kind}` on /metrics), flagged on /health for
an hour, and told to the managers at most once per kind per hour (messaging.notify), naming the
contact by name, id and admin link, never by phone number. Counting uses the Django cache
(atomic add + incr, in fixed windows); moments are compared in code, so the hour holds under any
clock. Monitoring never breaks the work it watches: a failure here is logged and swallowed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, ParamSpec

import structlog
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily

from contacts.models import Contact
from messaging.notify import customers_line, managers_notify
from project.lib.locks import LockTimeout, cache_lock
from project.lib.public_url import public_base_url
from project.lib.tallies import tally_add, tally_counts

log = structlog.get_logger(__name__)

P = ParamSpec("P")

# kind -> the reason line of the managers' notice (Russian: they read it on WhatsApp).
KINDS = {
    "flood": "Поток сообщений от одного контакта",
    "long_message": "Очень длинное сообщение",
    "new_contacts": "Много новых контактов за час",
    "webhook_auth": "Запросы к вебхуку с неверным секретом",
    "failed_sends": "Сообщения не отправлены: много ошибок подряд",
    "spend": "Расход на модель выше обычного",
    "invoice_below_list": "Счёт ниже цены по прайсу",
}
# The counter /metrics shows as suspicious_events_total{kind} (project.lib.tallies: every process adds to it).
SUSPICIOUS_TALLY = "suspicious_events"
FLAG_FOR = timedelta(hours=1)  # a kind stays on /health this long, and is told at most once in it
FLOOD_WINDOW = timedelta(minutes=5)
NEW_CONTACTS_WINDOW = timedelta(hours=1)
WEBHOOK_AUTH_WINDOW = timedelta(minutes=10)
FAILED_SENDS_WINDOW = timedelta(minutes=15)
_KEPT = int(timedelta(days=2).total_seconds())


def _never_raises(func: Callable[P, Any]) -> Callable[P, Any]:
    @functools.wraps(func)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception:
            log.exception("suspicious.check_failed", check=func.__name__)
            return None

    return guarded


def _count(*, name: str, window: timedelta, now: datetime, by: int = 1) -> int:
    """Events of `name` in the current fixed window of length `window` (these `by` included)."""
    seconds = int(window.total_seconds())
    key = f"suspicious:count:{name}:{int(now.timestamp()) // seconds}"
    cache.add(key, 0, timeout=2 * seconds)
    try:
        return cache.incr(key, by)
    except ValueError:  # expired between the add and the incr
        cache.add(key, by, timeout=2 * seconds)
        return by


def admin_link(contact: Contact | None = None) -> str:
    """The contact's admin page (the contacts list without one): absolute on the public base URL
    (project.lib.public_url) when there is one, else a path."""
    if contact is None:
        path = reverse("admin:contacts_contact_changelist")
    else:
        path = reverse("admin:contacts_contact_change", args=[contact.pk])
    return f"{public_base_url()}{path}"


@_never_raises
def suspicious_report(
    *, kind: str, detail: str, contact: Contact | None = None, now: datetime | None = None, notify: bool = True
) -> bool:
    """Records one suspicious event of `kind` (a key of KINDS): log, counter, the /health flag, and
    the managers' notice unless one of this kind went out within the hour (or the caller's own
    notice already says it: `notify=False`). `detail` is one line for the managers (no phone
    numbers in it). Returns whether the managers were told."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of suspicious activity: {kind}")
    now = now or timezone.now()
    log.warning("suspicious.detected", kind=kind, contact_id=contact.pk if contact else None, detail=detail)
    tally_add(SUSPICIOUS_TALLY, {"kind": kind})
    cache.set(f"suspicious:seen:{kind}", now.timestamp(), timeout=_KEPT)
    if not notify:
        return False
    try:
        with cache_lock(f"suspicious-notice:{kind}", ttl=30, wait=5):
            last = cache.get(f"suspicious:notified:{kind}")
            if last is not None and now.timestamp() - float(last) < FLAG_FOR.total_seconds():
                return False
            cache.set(f"suspicious:notified:{kind}", now.timestamp(), timeout=_KEPT)
    except LockTimeout:
        return False  # another process is telling the managers about this kind right now
    who = f"{customers_line([contact])}\n{admin_link(contact)}" if contact else f"Контакты: {admin_link()}"
    managers_notify(
        contact=None,
        who=who,
        reason=f"Подозрительная активность: {KINDS[kind]}",
        summary=detail,
        key=f"suspicious:{kind}:{now:%Y%m%dT%H%M%S.%f}",
    )
    return True


# --- The detectors the channel calls ------------------------------------------------------------


@_never_raises
def inbound_watch(*, contact: Contact, text: str, now: datetime | None = None) -> None:
    """Ingest, for each stored customer message: a flood from one contact, a very long message."""
    inbound_batch_watch(messages=[(contact, text)], now=now)


@_never_raises
def inbound_batch_watch(*, messages: list[tuple[Contact, str]], now: datetime | None = None) -> None:
    """Ingest, for the customer messages one batch stored: a flood from one contact, a very long
    message. One counter update per contact, whatever the batch's size."""
    now = now or timezone.now()
    per_contact: dict[int, tuple[Contact, int]] = {}
    for contact, text in messages:
        if len(text) >= settings.SUSPICIOUS_LONG_MESSAGE_CHARS:
            detail = f"Сообщение из {len(text)} символов"
            suspicious_report(kind="long_message", contact=contact, detail=detail, now=now)
        per_contact[contact.pk] = (contact, per_contact.get(contact.pk, (contact, 0))[1] + 1)
    for contact, count in per_contact.values():
        sent = _count(name=f"flood:{contact.pk}", window=FLOOD_WINDOW, now=now, by=count)
        if sent - count < settings.SUSPICIOUS_FLOOD_MESSAGES <= sent:
            minutes = int(FLOOD_WINDOW.total_seconds() // 60)
            suspicious_report(
                kind="flood", contact=contact, detail=f"{sent} сообщений за {minutes} минут от одного контакта", now=now
            )


@_never_raises
def contact_created_watch(*, contact: Contact, now: datetime | None = None) -> None:
    """Ingest, for each contact it creates: a spike of new contacts within the hour."""
    contacts_created_watch(count=1, now=now)


@_never_raises
def contacts_created_watch(*, count: int, now: datetime | None = None) -> None:
    """Ingest, for the contacts one batch created: a spike of new contacts within the hour."""
    if count <= 0:
        return
    now = now or timezone.now()
    created = _count(name="new_contacts", window=NEW_CONTACTS_WINDOW, now=now, by=count)
    if created - count < settings.SUSPICIOUS_NEW_CONTACTS_PER_HOUR <= created:
        suspicious_report(kind="new_contacts", detail=f"{created} новых контактов за час", now=now)


@_never_raises
def webhook_auth_failed(*, now: datetime | None = None) -> None:
    """The webhook view, for each request with a missing or wrong secret."""
    now = now or timezone.now()
    failed = _count(name="webhook_auth", window=WEBHOOK_AUTH_WINDOW, now=now)
    if failed == settings.SUSPICIOUS_WEBHOOK_AUTH_FAILURES:
        minutes = int(WEBHOOK_AUTH_WINDOW.total_seconds() // 60)
        suspicious_report(
            kind="webhook_auth",
            detail=f"{failed} запросов к вебхуку Wappi с неверным секретом за {minutes} минут",
            now=now,
        )


@_never_raises
def send_failed_watch(*, now: datetime | None = None) -> None:
    """The sender, for each message that failed for good (a gateway error, not a refusal)."""
    now = now or timezone.now()
    failed = _count(name="failed_sends", window=FAILED_SENDS_WINDOW, now=now)
    if failed == settings.SUSPICIOUS_FAILED_SENDS:
        minutes = int(FAILED_SENDS_WINDOW.total_seconds() // 60)
        suspicious_report(kind="failed_sends", detail=f"{failed} сообщений не отправлены за {minutes} минут", now=now)


# --- What /health and /metrics show ------------------------------------------------------------


def suspicious_status(now: datetime | None = None) -> dict[str, Any]:
    """For /health: the kinds seen within the last hour ("alert" while there is any)."""
    now = now or timezone.now()
    seen = cache.get_many([f"suspicious:seen:{kind}" for kind in KINDS])
    kinds = [
        kind
        for kind in KINDS
        if (moment := seen.get(f"suspicious:seen:{kind}")) is not None
        and now.timestamp() - float(moment) < FLAG_FOR.total_seconds()
    ]
    return {"status": "alert" if kinds else "ok", "kinds": kinds}


def suspicious_metrics() -> Iterator[CounterMetricFamily]:
    """For /metrics: `suspicious_events_total{kind}` (kept in the cache, so every process sees it)."""
    totals = {labels["kind"]: n for labels, n in tally_counts(SUSPICIOUS_TALLY)}
    family = CounterMetricFamily(
        "suspicious_events", "Suspicious activity detected, by kind (messaging/suspicious.py)", labels=["kind"]
    )
    for kind in KINDS:
        family.add_metric([kind], float(totals.get(kind, 0)))
    yield family
