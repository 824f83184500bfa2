from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from followups.models import FollowUp


@transaction.atomic
def followup_stop(*, contact: Contact, reason: FollowUp.StopReason, now: datetime | None = None) -> int:
    """Completes the contact's active follow-up, if any, with `reason`. Returns 0 or 1."""
    return FollowUp.objects.filter(contact=contact, is_completed=False).update(
        is_completed=True,
        stop_reason=reason,
        completed_at=now or timezone.now(),
        next_touch_at=None,
        updated_at=now or timezone.now(),
    )
