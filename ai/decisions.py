"""The assistant's per-answer decision records (ai.models.ReplyDecision): their retention. They
quote the conversation (the tools' arguments, the reply), so they go with the messages
(RETENTION_MESSAGES_DAYS) and with a forgotten contact (ai.receivers.forget_contact)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ai.models import ReplyDecision


def reply_decisions_purge(*, before: datetime, batch: int = 1000) -> int:
    """Deletes the decision records made before `before`, `batch` rows a transaction. Returns how many."""
    deleted = 0
    while True:
        ids = list(
            ReplyDecision.objects.filter(created_at__lt=before).order_by("id").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += ReplyDecision.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted
