"""Data retention (task ai.apply_retention, daily): messages, voice transcripts and model-call
rows older than their RETENTION_*_DAYS go; 0 keeps them forever. An open conversation keeps
its last MAX_CONTEXT_MESSAGES messages whatever their age, and the outbox's unsent rows are
never deleted."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from ai.models import ClassificationRecord, ModelCall, ReplyDecision
from ai.tasks import apply_retention
from messaging.models import Message
from messaging.services import message_retention_purge
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 9, 3, 0, tzinfo=ZoneInfo("Asia/Almaty"))


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def retention(settings):
    settings.MAX_CONTEXT_MESSAGES = 2
    settings.RETENTION_MESSAGES_DAYS = 0
    settings.RETENTION_TRANSCRIPTS_DAYS = 0
    settings.RETENTION_MODEL_CALLS_DAYS = 0
    return settings


def model_call(at: datetime) -> ModelCall:
    with time_machine.travel(at, tick=False):
        return ModelCall.objects.create(backend="offline", purpose="classify", model="rules")


def run_at(now: datetime = NOW) -> str:
    with time_machine.travel(now, tick=False):
        return apply_retention()


def test_by_default_nothing_is_ever_deleted(retention):
    contact = ContactFactory()
    for age in (400, 300, 200):
        InboundMessageFactory(contact=contact, timestamp=days_ago(age), is_voice=True, transcription="Алло")
    model_call(days_ago(400))

    run_at()

    assert Message.objects.count() == 3
    assert set(Message.objects.values_list("transcription", flat=True)) == {"Алло"}
    assert ModelCall.objects.count() == 1


def test_old_messages_go_but_each_conversation_keeps_its_last_context_and_the_unsent_outbox(retention):
    retention.RETENTION_MESSAGES_DAYS = 30
    dormant = ContactFactory()
    dormant_old = [InboundMessageFactory(contact=dormant, timestamp=days_ago(90 - i)) for i in range(4)]
    active = ContactFactory()
    active_old = InboundMessageFactory(contact=active, timestamp=days_ago(60))
    unsent = OutboundMessageFactory(contact=active, timestamp=days_ago(45), status=Message.Status.QUEUED)
    recent = [InboundMessageFactory(contact=active, timestamp=days_ago(1 - i / 10)) for i in range(2)]

    run_at()

    kept = set(Message.objects.values_list("pk", flat=True))
    # The dormant conversation keeps its last two messages (the model's context if it wakes up).
    assert kept == {dormant_old[2].pk, dormant_old[3].pk, unsent.pk, *(m.pk for m in recent)}
    assert active_old.pk not in kept


def test_the_purge_works_in_batches_until_done(retention):
    contact = ContactFactory()
    for i in range(7):
        InboundMessageFactory(contact=contact, timestamp=days_ago(100 + i))
    InboundMessageFactory(contact=contact, timestamp=days_ago(1))
    InboundMessageFactory(contact=contact, timestamp=days_ago(0.5))

    with time_machine.travel(NOW, tick=False):
        deleted = message_retention_purge(before=days_ago(30), keep_last=2, batch=3)

    assert deleted == 7
    assert Message.objects.count() == 2


def test_old_voice_transcripts_are_cleared_and_recent_ones_kept(retention):
    retention.RETENTION_TRANSCRIPTS_DAYS = 7
    retention.MAX_CONTEXT_MESSAGES = 1
    contact = ContactFactory()
    old = InboundMessageFactory(contact=contact, timestamp=days_ago(10), is_voice=True, transcription="Старое")
    new = InboundMessageFactory(contact=contact, timestamp=days_ago(1), is_voice=True, transcription="Новое")

    run_at()

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.transcription, new.transcription) == ("", "Новое")
    assert Message.objects.count() == 2


def test_old_model_calls_go_and_the_classification_log_keeps_its_verdicts(retention):
    retention.RETENTION_MODEL_CALLS_DAYS = 90
    old = model_call(days_ago(120))
    recent = model_call(days_ago(10))
    verdict = ClassificationRecord.objects.create(
        contact=ContactFactory(), source="model", is_client=True, model_call=old
    )

    run_at()

    assert list(ModelCall.objects.values_list("pk", flat=True)) == [recent.pk]
    verdict.refresh_from_db()
    assert (verdict.is_client, verdict.model_call_id) == (True, None)


def test_old_decision_records_go_with_the_messages_they_quote(retention):
    retention.RETENTION_MESSAGES_DAYS = 30
    contact = ContactFactory()
    with time_machine.travel(days_ago(40), tick=False):
        ReplyDecision.objects.create(contact=contact, text="старый ответ")
    with time_machine.travel(days_ago(10), tick=False):
        recent = ReplyDecision.objects.create(contact=contact, text="новый ответ")

    run_at()

    assert list(ReplyDecision.objects.values_list("pk", flat=True)) == [recent.pk]
