from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from calls.services import reminders_send_due


@shared_task(name="contacts.send_call_reminders", ignore_result=True)
def send_call_reminders() -> int:
    """Every minute (beat): queues the due reminders of scheduled calls."""
    return reminders_send_due(now=timezone.now())
