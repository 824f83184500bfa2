"""Message.Purpose.HANDOFF: the customer-facing "a manager takes over" message gets a purpose of
its own instead of being a notification told apart by its idempotency key and its text.

The rows already written are found once, here, by the rule reports used until now: a bot's
answer to a customer message (key `reply:<id>`, or `late-reply:<id>` for the answer sent once
the model was back after an outage) queued as a notification, other than the opt-out
confirmation. The pipeline queued an answer as a notification only when it handed the chat
to a manager or confirmed an opt-out.
"""

from django.db import migrations, models
from django.db.models import Q

# The opt-out confirmation as the pipeline wrote it up to this migration (ai/rules/optout.py).
OPT_OUT_CONFIRMATION = "Хорошо, больше не будем писать вам первыми. Если понадобится помощь — просто напишите нам 🙏"


def handoffs_get_their_purpose(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    Message.objects.filter(
        Q(idempotency_key__startswith="reply:") | Q(idempotency_key__startswith="late-reply:"),
        direction="out",
        author="bot",
        purpose="notification",
    ).exclude(text=OPT_OUT_CONFIRMATION).update(purpose="handoff")


def handoffs_back_to_notifications(apps, schema_editor):
    Message = apps.get_model("messaging", "Message")
    Message.objects.filter(purpose="handoff").update(purpose="notification")


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0006_purpose_post_purchase"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="purpose",
            field=models.CharField(
                blank=True,
                choices=[
                    ("reply", "Ответ"),
                    ("follow_up", "Follow-up"),
                    ("booking", "Запись на звонок"),
                    ("payment", "Оплата"),
                    ("post_purchase", "После покупки"),
                    ("notification", "Уведомление"),
                    ("fallback", "Запасной ответ"),
                    ("handoff", "Передача менеджеру"),
                ],
                max_length=16,
                verbose_name="назначение",
            ),
        ),
        migrations.RunPython(handoffs_get_their_purpose, handoffs_back_to_notifications, elidable=True),
    ]
