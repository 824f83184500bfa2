"""The playground of the sandbox chat: one-click sample customers for each flow, and beside each
bot reply what the assistant decided, read from what the product records (never worked out here):

- the verdict on the contact: ai.ClassificationRecord (client or not, confidence, reasoning,
  request type);
- per answer: ai.ReplyDecision (the tools called with their results, what the number guard did,
  hand-off) and the message's own purpose and review note;
- what came of it: contacts.ScheduledCall (calls), payments.Payment (invoices), followups.FollowUp
  (follow-up enrolment), the contact's opt-out.

It works the same with the real model: operators try prompt and knowledge-base changes here before
customers see them. Dev-only, like the rest of the sandbox (no product module imports it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone

from ai.models import ClassificationRecord, ModelCall, ReplyDecision
from contacts.models import Contact, ScheduledCall
from followups.models import FollowUp, ReplyIntent
from messaging.models import Message
from payments.models import Payment


@dataclass(frozen=True)
class Sample:
    key: str
    label: str
    name: str
    phone: str
    body: str = ""
    voice: bool = False


# One customer per flow, each on its own number so the flows do not mix. "Оплатил" writes to the
# invoice customer's chat, after their invoice.
SAMPLES: tuple[Sample, ...] = (
    Sample("price", "Вопрос о цене", "Айгерим", "77011000001",
           "Здравствуйте! Сколько стоит бутыль 19 литров с доставкой по Алматы?"),
    Sample("booking", "Запись на звонок", "Ерлан", "77011000002",
           "А кулер в аренду есть? Хочу созвониться с менеджером в пятницу в 11:00"),
    Sample("invoice", "Счёт", "ТОО Арман", "77011000003", "Выставьте счёт на 2 бутыли воды 19 л"),
    Sample("paid", "«Оплатил»", "ТОО Арман", "77011000003", "Оплатил"),
    Sample("optout", "Отписка", "Гульнара", "77011000004", "Больше не пишите мне"),
    Sample("complaint", "Жалоба", "Марат", "77011000005",
           "Ужасный сервис! Привезли мутную воду, верните деньги"),
    Sample("voice", "Голосовое", "Динара", "77011000006", voice=True),
    Sample("spam", "Спам", "Promo", "77011000007",
           "Раскрутка Instagram! Подписчики и реклама недорого, пишите в директ www.promo-smm.kz"),
    Sample("kazakh", "Қазақша", "Асқар", "77011000008",
           "Сәлеметсіз бе! Менеджермен ертең сағат 11-де сөйлескім келеді"),
)  # fmt: skip


def samples() -> list[dict[str, Any]]:
    return [asdict(sample) for sample in SAMPLES]


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%d.%m %H:%M") if moment else ""


def _classification(contact: Contact) -> dict[str, Any] | None:
    record = ClassificationRecord.objects.filter(contact=contact).order_by("-created_at", "-id").first()
    if record is None:
        return None
    return {
        "is_client": record.is_client,
        "confidence": record.confidence,
        "reasoning": record.reasoning,
        "request_type": record.request_type or "",
        "source": record.get_source_display(),
        "error": record.error,
    }


def _follow_up(contact: Contact) -> dict[str, Any] | None:
    followup = FollowUp.objects.filter(contact=contact).order_by("-created_at", "-id").first()
    intent = ReplyIntent.objects.filter(contact=contact).first()
    intent_text = intent.get_intent_display() if intent else ""
    if followup is None:
        return {"active": False, "started": False, "intent": intent_text} if intent else None
    return {
        "started": True,
        "intent": intent_text,
        "active": not followup.is_completed,
        "touch_number": followup.touch_number,
        "next_touch_at": _local(followup.next_touch_at),
        "reason": followup.get_reason_display(),
        "stop_reason": followup.get_stop_reason_display() if followup.stop_reason else "",
    }


def _decision(decision: ReplyDecision | None, message: Message) -> dict[str, Any]:
    shown: dict[str, Any] = {"purpose": message.get_purpose_display(), "review_note": message.review_note}
    if decision is not None:
        shown.update(
            backend=decision.backend,
            tools=decision.tool_calls,
            guard=decision.compose_result,
            rejected_figures=decision.rejected_figures,
            drafts=decision.drafts,
            handed_off=decision.handed_off,
        )
    return shown


def assistant_view(*, phone: str) -> dict[str, Any] | None:
    """What the product recorded for the customer with `phone` (digits), and per bot message
    (keyed by its WhatsApp id, as the sandbox chat shows it) what was decided for it. None when
    the product has not seen this customer yet."""
    contact = Contact.objects.filter(phone=phone).first()
    if contact is None:
        return None
    out_messages = list(
        Message.objects.filter(contact=contact, direction=Message.Direction.OUT).order_by("timestamp", "id")
    )
    decisions = {
        decision.message_id: decision
        for decision in ReplyDecision.objects.filter(contact=contact).order_by("created_at", "id")
    }
    replies: dict[str, Any] = {}
    for message in out_messages:
        if message.provider_message_id:
            replies[message.provider_message_id] = _decision(decisions.get(message.reply_to_id), message)
    last_call = ModelCall.objects.filter(contact=contact).order_by("-created_at", "-id").first()
    return {
        "contact_admin_url": reverse("admin:contacts_contact_change", args=[contact.pk]),
        "classification": _classification(contact),
        "request_type": contact.request_type or "",
        "opted_out": _local(contact.opted_out_at),
        "backend": f"{last_call.backend} · {last_call.model}" if last_call else "",
        "follow_up": _follow_up(contact),
        "calls": [
            {
                "when": _local(call.scheduled_at),
                "status": call.get_status_display(),
                "admin_url": reverse("admin:contacts_scheduledcall_change", args=[call.pk]),
            }
            for call in ScheduledCall.objects.filter(contact=contact).order_by("scheduled_at")
        ],
        "invoices": [
            {"amount": str(payment.amount), "description": payment.description, "status": payment.get_status_display()}
            for payment in Payment.objects.filter(contact=contact).order_by("created_at")
        ],
        "replies": replies,
    }
