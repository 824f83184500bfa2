"""The messaging migrations that rewrite rows: 0007 gives the hand-off messages written before
Message.Purpose.HANDOFF existed their purpose, and leaves the other notices alone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import ContactFactory

HANDOFF_TEXT = "Передал ваш вопрос менеджеру — он напишет вам здесь в ближайшее время 🙏"
OPT_OUT_CONFIRMATION = "Хорошо, больше не будем писать вам первыми. Если понадобится помощь — просто напишите нам 🙏"


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
