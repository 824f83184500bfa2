"""Examples shown in the OpenAPI document (one item for list endpoints: drf-spectacular wraps it
in the page)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

_CONTACT = {
    "id": 42,
    "phone": "77012345678",
    "phone_display": "+7 701 234 56 78",
    "chat_id": "77012345678@c.us",
    "display_name": "Асель Нурланова",
    "name": "Асель",
    "full_name": "Асель Нурланова",
    "push_name": "Асель",
    "business_name": "",
    "is_client": True,
    "classification_confidence": 0.9,
    "classification_reasoning": "Спрашивает цену и доставку кулера.",
    "classified_at": "2026-03-02T10:15:03+05:00",
    "classified_by": "model",
    "request_type": "sales",
    "bot_mode": "ai",
    "paused_until": None,
    "bot_paused": False,
    "opted_out": False,
    "opted_out_at": None,
    "first_inbound_at": "2026-03-02T10:14:55+05:00",
    "last_inbound_at": "2026-03-02T10:20:41+05:00",
    "first_outbound_at": "2026-03-02T10:15:09+05:00",
    "last_outbound_at": "2026-03-02T10:20:50+05:00",
    "created_at": "2026-03-02T10:14:56+05:00",
    "updated_at": "2026-03-02T10:20:50+05:00",
}
_BRIEF = {
    "id": 42,
    "phone": "77012345678",
    "phone_display": "+7 701 234 56 78",
    "display_name": "Асель Нурланова",
    "is_client": True,
    "bot_mode": "ai",
}
_MESSAGE = {
    "id": 1001,
    "contact_id": 42,
    "contact_phone": "77012345678",
    "direction": "in",
    "author": "customer",
    "text": "Здравствуйте, сколько стоит кулер Aqua Pro с доставкой в Алматы?",
    "display_text": "Здравствуйте, сколько стоит кулер Aqua Pro с доставкой в Алматы?",
    "is_voice": False,
    "transcription": "",
    "media_type": "chat",
    "media_url": "",
    "purpose": "",
    "status": "",
    "attempts": 0,
    "last_error": "",
    "review_note": "",
    "reply_to_id": None,
    "timestamp": "2026-03-02T10:20:41+05:00",
    "sent_at": None,
    "delivered_at": None,
    "read_at": None,
    "created_at": "2026-03-02T10:20:42+05:00",
}
_QUEUED = {
    **_MESSAGE,
    "id": 1002,
    "direction": "out",
    "author": "operator",
    "text": "Асель, добрый день! Это Марат, менеджер. Доставка в Алматы бесплатная.",
    "display_text": "Асель, добрый день! Это Марат, менеджер. Доставка в Алматы бесплатная.",
    "media_type": "",
    "purpose": "reply",
    "status": "queued",
    "timestamp": "2026-03-02T10:25:00+05:00",
    "created_at": "2026-03-02T10:25:00+05:00",
}
_PAYMENT = {
    "id": 7,
    "contact_id": 42,
    "amount": "25000.00",
    "description": "Кулер Aqua Pro",
    "phone": "77012345678",
    "status": "processed",
    "kaspi_payment_id": 15023311,
    "kaspi_status": "Processed",
    "refundable_amount": "25000.00",
    "refunded_amount": "0.00",
    "created_by": "ai",
    "sent_at": "2026-03-02T10:30:00+05:00",
    "expires_at": "2026-03-03T10:30:00+05:00",
    "last_checked_at": "2026-03-02T10:41:12+05:00",
    "paid_at": "2026-03-02T10:41:12+05:00",
    "last_error": "",
    "created_at": "2026-03-02T10:29:59+05:00",
    "refunds": [],
}
_REFUND = {
    "id": 3,
    "payment_id": 7,
    "amount": "5000.00",
    "state": "done",
    "error": "",
    "kaspi_operation_id": 880021,
    "available_before": "25000.00",
    "created_at": "2026-03-04T12:00:00+05:00",
}

CONTACT = OpenApiExample("A client", value=_CONTACT, response_only=True)
CONTACT_PAGE = OpenApiExample("Clients", value=_CONTACT, response_only=True)
PAUSED_CONTACT = OpenApiExample(
    "Paused until the evening",
    value={**_CONTACT, "bot_mode": "human", "paused_until": "2026-03-02T19:00:00+05:00", "bot_paused": True},
    response_only=True,
)
PAUSE_REQUEST = OpenApiExample("Until the evening", value={"until": "2026-03-02T19:00:00+05:00"}, request_only=True)
CLASSIFY = OpenApiExample(
    "The model's verdict",
    value={
        "verdict": {
            "is_client": True,
            "confidence": 0.9,
            "reasoning": "Спрашивает цену и доставку кулера.",
            "request_type": "sales",
        },
        "applied": True,
        "forced_by": "operator",
        "forced_at": "2026-03-02T10:15:02+05:00",
        "contact": _CONTACT,
    },
    response_only=True,
)
ACTION_PAGE = OpenApiExample(
    "Operator actions",
    value={
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": 12,
                "at": "2026-11-30T10:05:00+05:00",
                "via": "api",
                "action": "resume",
                "actor": "aigul",
                "detail": "",
            },
            {
                "id": 11,
                "at": "2026-11-30T09:40:00+05:00",
                "via": "admin",
                "action": "pause",
                "actor": "aigul",
                "detail": "до ручного возобновления",
            },
        ],
    },
    response_only=True,
)

FORGET = OpenApiExample(
    "Forgotten",
    value={
        "phone": "77012345678",
        "removed": {
            "messages": 14,
            "followups": 1,
            "followup_touches": 2,
            "calls": 1,
            "call_reminders": 2,
            "classifications": 3,
            "reply_decisions": 4,
            "pending_replies": 0,
            "reply_intents": 1,
            "model_calls_unlinked": 9,
            "notices_redacted": 1,
            "chat_cursors": 1,
            "post_purchase_anonymised": 0,
            "payments_anonymised": 1,
            "card_drafts": 0,
            "admin_log_entries": 2,
            "contact_deleted": 1,
        },
    },
    response_only=True,
)
MESSAGE_PAGE = OpenApiExample("A customer's question", value=_MESSAGE, response_only=True)
MESSAGE_LIST = OpenApiExample("The latest message", value=_MESSAGE, response_only=True)
SEND_REQUEST = OpenApiExample(
    "A manager writes",
    value={
        "phone": "+7 701 234 56 78",
        "text": "Асель, добрый день! Это Марат, менеджер. Доставка в Алматы бесплатная.",
        "idempotency_key": "crm-task-5512",
    },
    request_only=True,
)
QUEUED_MESSAGE = OpenApiExample("Queued", value=_QUEUED, response_only=True, status_codes=["202"])
FOLLOWUP_PAGE = OpenApiExample(
    "Second touch tomorrow",
    value={
        "id": 5,
        "contact": _BRIEF,
        "touch_number": 2,
        "next_touch_at": "2026-03-03T11:00:00+05:00",
        "last_touch_at": "2026-03-02T11:02:10+05:00",
        "reason": "no_reply",
        "is_completed": False,
        "stop_reason": "",
        "created_at": "2026-03-01T10:21:00+05:00",
    },
    response_only=True,
)
CALL_PAGE = OpenApiExample(
    "A call on Wednesday",
    value={
        "id": 9,
        "contact": _BRIEF,
        "scheduled_at": "2026-03-04T11:00:00+05:00",
        "timezone": "Asia/Almaty",
        "status": "scheduled",
        "notes": "Подбор кулера для офиса",
        "created_by": "ai",
        "created_at": "2026-03-02T10:40:00+05:00",
    },
    response_only=True,
)
PAYMENT = OpenApiExample("Paid", value=_PAYMENT, response_only=True)
PAYMENT_PAGE = OpenApiExample("A paid invoice", value=_PAYMENT, response_only=True)
REFUND_REQUEST = OpenApiExample("Part of it", value={"amount": "5000.00"}, request_only=True)
REFUND = OpenApiExample("Refunded", value=_REFUND, response_only=True)
STATS = OpenApiExample(
    "A quiet morning",
    value={
        "date": "2026-03-02",
        "timezone": "Asia/Almaty",
        "contacts": {
            "total": 120,
            "new": 4,
            "clients": 61,
            "not_clients": 30,
            "unclassified": 29,
            "human_mode": 2,
            "opted_out": 3,
        },
        "messages_today": {
            "inbound": 37,
            "inbound_voice": 4,
            "outbound": 41,
            "outbound_by_status": {
                "queued": 0,
                "sending": 0,
                "sent": 3,
                "delivered": 12,
                "read": 26,
                "failed": 0,
            },
        },
        "outbox_pending": 0,
        "queue_depth": {"default": 0, "llm": 0, "send": 0},
        "llm_today": {"backend": "gemini", "calls": 52, "errors": 0, "cost_usd": 0.0412},
        "followups": {"active": 14, "touches": {"1": {"sent": 20, "replied_48h": 6}}},
    },
    response_only=True,
)
