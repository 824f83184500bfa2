"""What the operators' dashboard shows: today and the last 30 local days (TIME_ZONE).

Every number comes from the owning app's selectors, each a fixed number of aggregate queries
over the whole 30-day window grouped by local day, never a query per day: messages and
hand-offs (messaging), new contacts, first-reply waits, calls and the funnel (contacts),
invoices (payments), follow-up touches (followups) and model usage (ai.usage, which /stats
shows too); beside them what needs a person: outbound messages that failed for good and
customer messages nobody answered within a day and the open hand-offs with their age
(messaging). This module only cuts the days into today and the month.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from ai.usage import usage_summary
from contacts.selectors import (
    contact_first_reply_waits,
    contact_funnel,
    contact_new_by_day,
    scheduled_call_counts_by_day,
)
from followups.selectors import MAX_TOUCHES, followup_touches_by_day
from messaging.selectors import (
    handoffs_open,
    inbound_unanswered_count,
    message_counts_by_day,
    number_health,
    outbound_failed_counts,
)
from payments.selectors import payment_counts_by_day, payment_paying_contacts_count

DAYS = 30
# The counts each selector gives per day, as the template names them.
MESSAGE_COUNTS = ["inbound", "outbound", "replies", "handoffs"]
CONTACT_COUNTS = ["new", "clients", "not_clients", "unknown"]
CALL_COUNTS = ["booked", "cancelled"]
PAYMENT_COUNTS = ["created", "paid"]


@dataclass(frozen=True)
class Window:
    """[start, end) in the business's time zone: today, or the last DAYS local days (today included)."""

    key: str
    label: str
    start: datetime
    end: datetime


def dashboard_windows(*, now: datetime) -> tuple[Window, Window, list[date]]:
    local = timezone.localtime(now)
    today_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Midnight-to-midnight in local time: add days to the date, not 24 h to the instant, so a
    # zone with daylight saving still gets whole days.
    tz = local.tzinfo
    tomorrow = datetime.combine(today_start.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    first_day = today_start.date() - timedelta(days=DAYS - 1)
    month_start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
    days = [first_day + timedelta(days=n) for n in range(DAYS)]
    return (
        Window("today", "Сегодня", today_start, tomorrow),
        Window("month", f"{DAYS} дней", month_start, tomorrow),
        days,
    )


def _series(by_day: Mapping[date, Mapping[str, int]], names: list[str], days: list[date]) -> list[dict[str, Any]]:
    """One row per day, zeros where the selector had nothing."""
    return [{"day": d, **{n: (by_day.get(d) or {}).get(n, 0) for n in names}} for d in days]


def _totals(series: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, int]]:
    """Today (the last day of the series) and the sum of the whole series."""
    return {
        "today": {n: series[-1][n] for n in names},
        "month": {n: sum(row[n] for row in series) for n in names},
    }


def _first_reply_medians(*, today: Window, month: Window) -> dict[str, float | None]:
    """Median seconds from a contact's first message to our first message after it, for
    contacts who first wrote in the window (the median is taken in Python so it works on
    SQLite as well as PostgreSQL). Contacts never answered are left out."""
    waits = contact_first_reply_waits(since=month.start, until=month.end)
    by_window = {
        "month": [seconds for _, seconds in waits],
        "today": [seconds for first_in, seconds in waits if first_in >= today.start],
    }
    return {key: (statistics.median(values) if values else None) for key, values in by_window.items()}


def _followups(*, month: Window, days: list[date]) -> dict[str, list[dict[str, int]]]:
    """Per touch number: touches that reached WhatsApp, and how many of them the customer
    answered within 48 hours (followups.selectors.followup_touches_by_day)."""
    by_day = followup_touches_by_day(since=month.start, until=month.end)
    out: dict[str, list[dict[str, int]]] = {}
    for key, window_days in (("today", days[-1:]), ("month", days)):
        out[key] = [
            {
                "touch": n,
                "sent": sum(by_day.get(d, {}).get(n, {}).get("sent", 0) for d in window_days),
                "answered": sum(by_day.get(d, {}).get(n, {}).get("answered", 0) for d in window_days),
            }
            for n in range(1, MAX_TOUCHES + 1)
        ]
    return out


def _funnel(*, month: Window) -> list[dict[str, Any]]:
    """The contacts who first appeared in the last 30 days, and how far they got: classified as
    clients, booked a call, paid an invoice."""
    totals = {
        **contact_funnel(since=month.start, until=month.end),
        "payments": payment_paying_contacts_count(first_seen_since=month.start, first_seen_until=month.end),
    }
    labels = [
        ("contacts", "Новые контакты"),
        ("clients", "Клиенты"),
        ("calls", "Записались на звонок"),
        ("payments", "Оплатили"),
    ]
    top = totals["contacts"] or 0
    return [
        {"key": key, "label": label, "value": totals[key] or 0, "share": (totals[key] or 0) / top if top else 0.0}
        for key, label in labels
    ]


def dashboard_summary(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, for today and the last 30 local days. A fixed number of
    queries whatever the data (about 20, most of them ai.usage.usage_summary's)."""
    now = now or timezone.now()
    today, month, days = dashboard_windows(now=now)
    span = {"since": month.start, "until": month.end}
    daily = _series(message_counts_by_day(**span), MESSAGE_COUNTS, days)
    messages = _totals(daily, MESSAGE_COUNTS)
    contacts = _totals(_series(contact_new_by_day(**span), CONTACT_COUNTS, days), CONTACT_COUNTS)
    calls = _totals(_series(scheduled_call_counts_by_day(**span), CALL_COUNTS, days), CALL_COUNTS)
    payments = _totals(_series(payment_counts_by_day(**span), PAYMENT_COUNTS, days), PAYMENT_COUNTS)
    medians = _first_reply_medians(today=today, month=month)
    followups = _followups(month=month, days=days)
    windows = {}
    for w in (today, month):
        windows[w.key] = {
            "label": w.label,
            "start": w.start,
            "end": w.end,
            "messages": messages[w.key],
            "contacts": contacts[w.key],
            "first_reply_median_seconds": medians[w.key],
            "calls": calls[w.key],
            "payments": payments[w.key],
            "followups": followups[w.key],
            "llm": usage_summary(since=w.start, until=w.end),
        }
    failed = outbound_failed_counts(since=today.start)
    return {
        "today": windows["today"],
        "month": windows["month"],
        "daily": daily,
        "funnel": _funnel(month=month),
        # Nobody dropped silently: what failed for good and is still failed (today, and all of
        # it), and the customers nobody answered within a day (messaging.selectors).
        "attention": {
            "failed_sends_today": failed["since"],
            "failed_sends": failed["total"],
            "unanswered_day": inbound_unanswered_count(now=now),
        },
        # The number-health card: our WhatsApp number's standing (messaging.number).
        "number": number_health(now=now),
        # Chats handed to the managers and not yet back with the assistant, oldest first.
        "handoffs_open": handoffs_open(now=now),
    }
