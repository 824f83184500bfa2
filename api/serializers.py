"""What the API shows and accepts. Output serializers are read-only views of the models;
input serializers validate a request before a service is called."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import Contact, OperatorAction, ScheduledCall
from contacts.phones import PhoneError, format_phone, normalize_phone
from followups.models import FollowUp
from messaging.models import Message
from payments.models import Payment, Refund

# --- Output ------------------------------------------------------------------------------------


def _may_be_blank(
    choices: list[tuple[str, str]], help_text: str = "", *, allow_null: bool = False
) -> serializers.ChoiceField:
    """A read-only choice that may also be "" (DRF drops allow_blank from read-only model fields,
    and the schema would then promise a value that is not always there)."""
    return serializers.ChoiceField(
        choices=choices, allow_blank=True, allow_null=allow_null, read_only=True, help_text=help_text
    )


class ContactBriefSerializer(serializers.ModelSerializer):
    phone_display = serializers.SerializerMethodField(help_text="The number as people write it: +7 701 234 56 78")
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Contact
        fields = ("id", "phone", "phone_display", "display_name", "is_client", "bot_mode")

    def get_phone_display(self, contact: Contact) -> str:
        return format_phone(contact.phone)


class ContactSerializer(ContactBriefSerializer):
    bot_paused = serializers.SerializerMethodField(help_text="True while an operator owns the chat")
    opted_out = serializers.SerializerMethodField(help_text="The contact asked for no proactive messages")
    classified_by = _may_be_blank(
        [("model", "Модель"), ("operator", "Оператор")], "Blank until someone or something decided"
    )
    request_type = _may_be_blank(Contact.RequestType.choices, "Null until classified", allow_null=True)

    class Meta:
        model = Contact
        fields = (
            "id",
            "phone",
            "phone_display",
            "chat_id",
            "display_name",
            "name",
            "full_name",
            "push_name",
            "business_name",
            "is_client",
            "classification_confidence",
            "classification_reasoning",
            "classified_at",
            "classified_by",
            "request_type",
            "bot_mode",
            "paused_until",
            "bot_paused",
            "opted_out",
            "opted_out_at",
            "first_inbound_at",
            "last_inbound_at",
            "first_outbound_at",
            "last_outbound_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    def get_bot_paused(self, contact: Contact) -> bool:
        return contact.bot_is_paused()

    def get_opted_out(self, contact: Contact) -> bool:
        return contact.is_opted_out


class MessageSerializer(serializers.ModelSerializer):
    contact_id = serializers.IntegerField(read_only=True)
    contact_phone = serializers.CharField(source="contact.phone", read_only=True)
    display_text = serializers.CharField(read_only=True, help_text="The text, or a voice message's transcription")
    reply_to_id = serializers.IntegerField(read_only=True, allow_null=True)
    purpose = _may_be_blank(Message.Purpose.choices, "Outbound only")
    status = _may_be_blank(Message.Status.choices, "Outbound only")

    class Meta:
        model = Message
        fields = (
            "id",
            "contact_id",
            "contact_phone",
            "direction",
            "author",
            "text",
            "display_text",
            "is_voice",
            "transcription",
            "media_type",
            "media_url",
            "purpose",
            "status",
            "attempts",
            "last_error",
            "review_note",
            "reply_to_id",
            "timestamp",
            "sent_at",
            "delivered_at",
            "read_at",
            "created_at",
        )
        read_only_fields = fields


class FollowUpSerializer(serializers.ModelSerializer):
    contact = ContactBriefSerializer(read_only=True)
    stop_reason = _may_be_blank(FollowUp.StopReason.choices, "Blank while the sequence runs")

    class Meta:
        model = FollowUp
        fields = (
            "id",
            "contact",
            "touch_number",
            "next_touch_at",
            "last_touch_at",
            "reason",
            "is_completed",
            "stop_reason",
            "created_at",
        )
        read_only_fields = fields


class ScheduledCallSerializer(serializers.ModelSerializer):
    contact = ContactBriefSerializer(read_only=True)

    class Meta:
        model = ScheduledCall
        fields = ("id", "contact", "scheduled_at", "timezone", "status", "notes", "created_by", "created_at")
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    payment_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Refund
        fields = (
            "id",
            "payment_id",
            "amount",
            "state",
            "error",
            "kaspi_operation_id",
            "available_before",
            "created_at",
        )
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    refunds = RefundSerializer(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = (
            "id",
            "contact_id",
            "amount",
            "description",
            "phone",
            "status",
            "kaspi_payment_id",
            "kaspi_status",
            "refundable_amount",
            "refunded_amount",
            "created_by",
            "sent_at",
            "expires_at",
            "last_checked_at",
            "paid_at",
            "last_error",
            "created_at",
            "refunds",
        )
        read_only_fields = fields


class VerdictSerializer(serializers.Serializer):
    is_client = serializers.BooleanField(allow_null=True, help_text="null: not enough to decide yet")
    confidence = serializers.FloatField(allow_null=True, min_value=0, max_value=1)
    reasoning = serializers.CharField(allow_blank=True)
    request_type = serializers.ChoiceField(choices=Contact.RequestType.choices, allow_null=True)


class ClassifyResultSerializer(serializers.Serializer):
    verdict = VerdictSerializer(help_text="What the moderator decided just now")
    applied = serializers.BooleanField(
        help_text="Always true: a forced re-classification stores the model's verdict, even over an "
        "operator's (kept for clients that read it)"
    )
    forced_by = serializers.CharField(help_text="Who forced it: the token's user, as the audit trail records")
    forced_at = serializers.DateTimeField(help_text="When it was forced, as the audit trail records")
    contact = ContactSerializer()


class OperatorActionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", help_text="The operator's login (empty when not known)")

    class Meta:
        model = OperatorAction
        fields = ("id", "at", "via", "action", "actor", "detail")
        read_only_fields = fields


class ForgetResultSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="The number that was forgotten")
    removed = serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        help_text="Rows deleted, unlinked or anonymised, by kind",
    )


class StatsSerializer(serializers.Serializer):
    date = serializers.DateField()
    timezone = serializers.CharField()
    contacts = serializers.DictField(child=serializers.IntegerField())
    messages_today = serializers.DictField()
    outbox_pending = serializers.IntegerField()
    queue_depth = serializers.DictField(child=serializers.IntegerField(allow_null=True))
    llm_today = serializers.DictField()
    followups = serializers.DictField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: invalid, not_authenticated, contact_not_found…")
    message = serializers.CharField(help_text="For people")
    details = serializers.JSONField(allow_null=True, help_text="Field errors, seconds to wait, or null")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- Input -------------------------------------------------------------------------------------


def phone_or_error(value: str) -> str:
    try:
        return normalize_phone(value)
    except PhoneError as exc:
        raise serializers.ValidationError(str(exc), code="invalid_phone") from exc


class NullableBooleanFilter(serializers.ChoiceField):
    """`true`, `false` or `null` (unknown) in a query string."""

    VALUES = {"true": True, "false": False, "null": None}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(self.VALUES), **kwargs)

    def to_internal_value(self, data: Any) -> bool | None:
        return self.VALUES[super().to_internal_value(str(data).lower())]


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class BooleanFilter(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=["true", "false"], **kwargs)

    def to_internal_value(self, data: Any) -> bool:
        return super().to_internal_value(str(data).lower()) == "true"


class ContactFilterSerializer(serializers.Serializer):
    is_client = NullableBooleanFilter(required=False, help_text="true, false or null (not classified yet)")
    bot_mode = serializers.ChoiceField(choices=Contact.BotMode.choices, required=False)
    opted_out = BooleanFilter(required=False, help_text="true: only contacts who opted out; false: only the others")
    request_type = serializers.ChoiceField(choices=Contact.RequestType.choices, required=False)
    search = serializers.CharField(
        required=False, max_length=100, help_text="Part of a name, or a phone number in any spelling"
    )


class FollowUpFilterSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, max_length=64, help_text="Only this contact (any spelling)")

    def validate_phone(self, value: str) -> str:
        return phone_or_error(value)


class CallFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ScheduledCall.Status.choices, required=False)
    phone = serializers.CharField(required=False, max_length=64, help_text="Only this contact (any spelling)")

    def validate_phone(self, value: str) -> str:
        return phone_or_error(value)


class PaymentFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Payment.Status.choices, required=False)
    phone = serializers.CharField(required=False, max_length=64, help_text="Only this contact (any spelling)")

    def validate_phone(self, value: str) -> str:
        return phone_or_error(value)


class MessageLogFilterSerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)
    direction = serializers.ChoiceField(choices=Message.Direction.choices, required=False)


class PauseSerializer(serializers.Serializer):
    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="The bot stays silent until then; omitted or null: until someone resumes it",
    )

    def validate_until(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future", code="in_the_past")
        return value


class SendMessageSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=64, help_text="The customer's number in any spelling")
    text = serializers.CharField(max_length=4096, help_text="What the operator writes")
    idempotency_key = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Sending again with the same key returns the first message instead of a second one",
    )

    def validate_phone(self, value: str) -> str:
        return phone_or_error(value)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("must not be blank", code="blank")
        return value


class RefundRequestSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        allow_null=True,
        help_text="Tenge; omitted or null: everything still refundable",
    )
