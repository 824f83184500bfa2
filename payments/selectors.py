"""Reads of the payments' rows for reports (the dashboard)."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.models import Payment


def payment_counts_by_day(*, since: datetime, until: datetime) -> dict[date, dict[str, int]]:
    """Per local day (TIME_ZONE) of [since, until): invoices created that day, and invoices paid
    that day (whenever they were created). Days with neither are absent. Two queries."""
    tz = timezone.get_current_timezone()
    by_day: dict[date, dict[str, int]] = {}
    created = (
        Payment.objects.filter(created_at__gte=since, created_at__lt=until)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    for row in created:
        by_day.setdefault(row["day"], {"created": 0, "paid": 0})["created"] = row["n"]
    paid = (
        Payment.objects.filter(paid_at__gte=since, paid_at__lt=until, status=Payment.Status.PROCESSED)
        .annotate(day=TruncDate("paid_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    for row in paid:
        by_day.setdefault(row["day"], {"created": 0, "paid": 0})["paid"] = row["n"]
    return by_day


def payment_paying_contacts_count(*, first_seen_since: datetime, first_seen_until: datetime) -> int:
    """How many contacts first seen in [first_seen_since, first_seen_until) have paid an invoice
    (ever): the last step of the dashboard's funnel. One query."""
    return (
        Payment.objects.filter(
            status=Payment.Status.PROCESSED,
            contact__created_at__gte=first_seen_since,
            contact__created_at__lt=first_seen_until,
        )
        .values("contact_id")
        .distinct()
        .count()
    )
