"""The hand-off message (Message.Purpose.HANDOFF) goes where the notification it replaced went:
out in operator mode and after an opt-out, never into a follow-up chain; operators read its
name in Russian; rows written before it existed get it from the migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contacts.models import Contact
from followups.models import FollowUp
from followups.services import followup_after_bot_message
from messaging.models import Message
from messaging.sender import outbox_send
from tests.factories import ContactFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db

HANDOFF_TEXT = "Передал ваш вопрос менеджеру — он напишет вам здесь в ближайшее время 🙏"
OPT_OUT_CONFIRMATION = "Хорошо, больше не будем писать вам первыми. Если понадобится помощь — просто напишите нам 🙏"


@pytest.fixture(autouse=True)
def _no_pacing(settings):
    settings.SEND_MIN_GAP_SECONDS = 0
    settings.SEND_GAP_JITTER_SECONDS = 0


def test_the_customer_is_told_of_the_hand_off_although_a_manager_now_has_the_chat(fake_wappi):
    contact = ContactFactory(is_client=True, bot_mode=Contact.BotMode.HUMAN, paused_until=None)
    told = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)
    bot_reply = OutboundMessageFactory(contact=contact, text="Ещё один ответ бота")

    client = fake_wappi.client()
    assert outbox_send(message_id=told.pk, client=client).status == "sent"
    assert outbox_send(message_id=bot_reply.pk, client=client).status == "skipped"
    assert [s["body"] for s in fake_wappi.sent] == [HANDOFF_TEXT]


def test_a_customer_who_opted_out_is_still_told_their_question_went_to_a_manager(fake_wappi):
    contact = ContactFactory(is_client=True, opted_out_at=timezone.now())
    told = OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)

    assert outbox_send(message_id=told.pk, client=fake_wappi.client()).status == "sent"


def test_a_hand_off_message_starts_no_follow_up_chain():
    # Even once an operator gave the chat back to the bot: a hand-off is not a question of ours.
    contact = ContactFactory(is_client=True, classified_by="model")
    now = timezone.now()
    told = OutboundMessageFactory(
        contact=contact, purpose=Message.Purpose.HANDOFF, status=Message.Status.SENT, timestamp=now, sent_at=now
    )

    assert followup_after_bot_message(message=told, now=now) is None
    assert not FollowUp.objects.filter(contact=contact).exists()


def test_operators_read_the_purpose_in_russian_in_the_admin_and_the_api_schema(admin_client):
    contact = ContactFactory()
    OutboundMessageFactory(contact=contact, purpose=Message.Purpose.HANDOFF, text=HANDOFF_TEXT)

    changelist = admin_client.get("/admin/messaging/message/?purpose__exact=handoff").content.decode()
    schema = admin_client.get("/api/schema/?format=json").json()

    assert "Передача менеджеру" in changelist  # the filter's choice
    assert "Передал ваш вопрос менеджеру" in changelist  # the row it finds
    message_purpose = schema["components"]["schemas"]["Message"]["properties"]["purpose"]["description"]
    assert "`handoff` - Передача менеджеру" in message_purpose


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_gives_earlier_hand_offs_their_purpose_and_leaves_other_notices_alone():
    before, after = [("messaging", "0006_purpose_post_purchase")], [("messaging", "0007_purpose_handoff")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldMessage = executor.loader.project_state(before).apps.get_model("messaging", "Message")
        customer, manager = ContactFactory(), ContactFactory(name="Менеджер")

        def notice(contact, key, text):
            return OldMessage.objects.create(
                contact_id=contact.pk,
                direction="out",
                author="bot",
                purpose="notification",
                status="sent",
                text=text,
                idempotency_key=key,
            ).pk

        handed_off = notice(customer, "reply:1", HANDOFF_TEXT)
        tool_words = notice(customer, "reply:2", "Передал менеджеру, он скоро напишет 👍")
        late = notice(customer, "late-reply:3", "Цену подтвердит менеджер, он уже в курсе 🙏")
        opt_out = notice(customer, "reply:4", OPT_OUT_CONFIRMATION)
        to_manager = notice(manager, "notify:handoff:1:77019990011", "🔔 Передача менеджеру: …")

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("messaging", "Message")
        purposes = dict(new.objects.values_list("pk", "purpose"))
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert purposes[handed_off] == purposes[tool_words] == purposes[late] == "handoff"
    assert purposes[opt_out] == purposes[to_manager] == "notification"
