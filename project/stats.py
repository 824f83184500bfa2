from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from contacts.selectors import contact_counts
from messaging.selectors import message_counts, outbox_pending_count


def stats_today() -> dict[str, Any]:
    """Today's counts, "today" being the business's local day (TIME_ZONE)."""
    now = timezone.localtime()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    return {
        "date": day_start.date().isoformat(),
        "timezone": str(now.tzinfo),
        "contacts": contact_counts(since=day_start),
        "messages_today": message_counts(since=day_start, until=day_end),
        "outbox_pending": outbox_pending_count(),
    }
