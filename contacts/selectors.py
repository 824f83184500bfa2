from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q

from contacts.models import Contact


def contact_counts(*, since: datetime) -> dict[str, int]:
    """Totals by classification and the number of contacts first seen since `since`."""
    return Contact.objects.aggregate(
        total=Count("id"),
        new=Count("id", filter=Q(created_at__gte=since)),
        clients=Count("id", filter=Q(is_client=True)),
        not_clients=Count("id", filter=Q(is_client=False)),
        unclassified=Count("id", filter=Q(is_client__isnull=True)),
        human_mode=Count("id", filter=Q(bot_mode=Contact.BotMode.HUMAN)),
        opted_out=Count("id", filter=Q(opted_out_at__isnull=False)),
    )
