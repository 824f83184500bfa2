"""What the operators' dashboard shows: today and the last 30 local days (TIME_ZONE).

Every number comes from a handful of aggregate queries over the whole 30-day window (grouped
by local day with TruncDate, split by conditional counts), never from a query per day; the
model usage block reuses ai.usage.usage_summary, which /stats shows too.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ai.usage import usage_summary
from contacts.models import Contact, ScheduledCall
from followups.models import MAX_TOUCHES, FollowUpTouch
from followups.selectors import REPLY_WINDOW, SENT_STATUSES
from messaging.models import Message
from payments.models import Payment

DAYS = 30


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


def _in(field: str, window: Window) -> Q:
    return Q(**{f"{field}__gte": window.start, f"{field}__lt": window.end})


def _both(field: str, today: Window, month: Window, **counts: Q) -> dict[str, Count]:
    """Conditional counts of each filter in `counts`, once per window: name_today, name_month."""
    out: dict[str, Count] = {}
    for name, condition in counts.items():
        for window in (today, month):
            out[f"{name}_{window.key}"] = Count("id", filter=condition & _in(field, window))
    return out


def _split(totals: dict[str, Any], names: list[str], windows: tuple[Window, Window]) -> dict[str, dict[str, Any]]:
    return {w.key: {name: totals[f"{name}_{w.key}"] or 0 for name in names} for w in windows}


def _messages_by_day(*, today: Window, month: Window, days: list[date]) -> dict[str, Any]:
    """One query: per local day, inbound, outbound, bot replies that reached WhatsApp, and hand-offs
    (the message telling the customer a person takes over, Message.Purpose.HANDOFF)."""
    handoff = Q(direction=Message.Direction.OUT, purpose=Message.Purpose.HANDOFF)
    rows = (
        Message.objects.filter(_in("timestamp", month))
        .annotate(day=TruncDate("timestamp", tzinfo=month.start.tzinfo))
        .values("day")
        .annotate(
            inbound=Count("id", filter=Q(direction=Message.Direction.IN)),
            outbound=Count("id", filter=Q(direction=Message.Direction.OUT)),
            replies=Count(
                "id",
                filter=Q(
                    direction=Message.Direction.OUT,
                    author=Message.Author.BOT,
                    purpose=Message.Purpose.REPLY,
                    status__in=SENT_STATUSES,
                ),
            ),
            handoffs=Count("id", filter=handoff),
        )
    )
    by_day = {row["day"]: row for row in rows}
    names = ["inbound", "outbound", "replies", "handoffs"]
    series = [{"day": d, **{n: (by_day.get(d) or {}).get(n, 0) for n in names}} for d in days]
    today_row = series[-1]
    return {
        "series": series,
        "today": {n: today_row[n] for n in names},
        "month": {n: sum(row[n] for row in series) for n in names},
    }


def _contacts(*, today: Window, month: Window) -> dict[str, dict[str, Any]]:
    """New contacts per window by their current verdict: client, not a client, not yet known."""
    totals = Contact.objects.filter(_in("created_at", month)).aggregate(
        **_both(
            "created_at",
            today,
            month,
            new=Q(),
            clients=Q(is_client=True),
            not_clients=Q(is_client=False),
            unknown=Q(is_client__isnull=True),
        )
    )
    return _split(totals, ["new", "clients", "not_clients", "unknown"], (today, month))


def _first_reply_medians(*, today: Window, month: Window) -> dict[str, float | None]:
    """Median seconds from a contact's first message to our first message after it, for
    contacts who first wrote in the window (one query; the median is taken in Python so it
    works on SQLite as well as PostgreSQL). Contacts never answered are left out."""
    rows = Contact.objects.filter(
        _in("first_inbound_at", month), first_outbound_at__gte=F("first_inbound_at")
    ).values_list("first_inbound_at", "first_outbound_at")
    waits: dict[str, list[float]] = {"today": [], "month": []}
    for first_in, first_out in rows:
        seconds = (first_out - first_in).total_seconds()
        waits["month"].append(seconds)
        if first_in >= today.start:
            waits["today"].append(seconds)
    return {key: (statistics.median(values) if values else None) for key, values in waits.items()}


def _calls(*, today: Window, month: Window) -> dict[str, dict[str, Any]]:
    totals = ScheduledCall.objects.filter(_in("created_at", month)).aggregate(
        **_both("created_at", today, month, booked=Q(), cancelled=Q(status=ScheduledCall.Status.CANCELLED))
    )
    return _split(totals, ["booked", "cancelled"], (today, month))


def _payments(*, today: Window, month: Window) -> dict[str, dict[str, Any]]:
    """Invoices created in the window, and invoices paid in it (whenever they were created)."""
    created = Payment.objects.filter(_in("created_at", month)).aggregate(**_both("created_at", today, month, n=Q()))
    paid = Payment.objects.filter(_in("paid_at", month), status=Payment.Status.PROCESSED).aggregate(
        **_both("paid_at", today, month, n=Q())
    )
    return {w.key: {"created": created[f"n_{w.key}"] or 0, "paid": paid[f"n_{w.key}"] or 0} for w in (today, month)}


def _followups(*, today: Window, month: Window) -> dict[str, list[dict[str, int]]]:
    """Per touch number: touches that reached WhatsApp in the window, and how many of them the
    customer answered within 48 hours (followups.selectors.followup_stats, windowed). One query."""
    replied = Exists(
        Message.objects.filter(
            contact_id=OuterRef("message__contact_id"),
            direction=Message.Direction.IN,
            timestamp__gt=OuterRef("message__sent_at"),
            timestamp__lte=OuterRef("message__sent_at") + REPLY_WINDOW,
        )
    )
    rows = (
        FollowUpTouch.objects.filter(_in("message__sent_at", month), message__status__in=SENT_STATUSES)
        .annotate(replied=replied)
        .values("touch_number")
        .annotate(
            **_both("message__sent_at", today, month, sent=Q(), answered=Q(replied=True)),
        )
    )
    by_touch = {row["touch_number"]: row for row in rows}
    return {
        w.key: [
            {
                "touch": n,
                "sent": (by_touch.get(n) or {}).get(f"sent_{w.key}", 0),
                "answered": (by_touch.get(n) or {}).get(f"answered_{w.key}", 0),
            }
            for n in range(1, MAX_TOUCHES + 1)
        ]
        for w in (today, month)
    }


def _funnel(*, month: Window) -> list[dict[str, Any]]:
    """The contacts who first appeared in the last 30 days, and how far they got: classified as
    clients, booked a call, paid an invoice. One query."""
    cohort = Contact.objects.filter(_in("created_at", month)).annotate(
        has_call=Exists(ScheduledCall.objects.filter(contact_id=OuterRef("pk"))),
        has_paid=Exists(Payment.objects.filter(contact_id=OuterRef("pk"), status=Payment.Status.PROCESSED)),
    )
    totals = cohort.aggregate(
        contacts=Count("id"),
        clients=Count("id", filter=Q(is_client=True)),
        calls=Count("id", filter=Q(has_call=True)),
        payments=Count("id", filter=Q(has_paid=True)),
    )
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
    today, month, days = dashboard_windows(now=now or timezone.now())
    messages = _messages_by_day(today=today, month=month, days=days)
    contacts = _contacts(today=today, month=month)
    medians = _first_reply_medians(today=today, month=month)
    calls = _calls(today=today, month=month)
    payments = _payments(today=today, month=month)
    followups = _followups(today=today, month=month)
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
    return {
        "today": windows["today"],
        "month": windows["month"],
        "daily": messages["series"],
        "funnel": _funnel(month=month),
    }
