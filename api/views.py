"""The operators' REST API. Views parse and check the request, call one service or selector,
and render the result; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import examples as ex
from api.errors import ContactNotFound, NotOnWhatsAppNumber, Unavailable, WhitelistedNumber
from api.serializers import (
    CallFilterSerializer,
    ClassifyResultSerializer,
    ContactFilterSerializer,
    ContactSerializer,
    ErrorSerializer,
    FollowUpFilterSerializer,
    FollowUpSerializer,
    ForgetResultSerializer,
    MessageLogFilterSerializer,
    MessageSerializer,
    OperatorActionSerializer,
    PauseSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    RefundSerializer,
    ScheduledCallSerializer,
    SendMessageSerializer,
    StatsSerializer,
)
from assistant.moderator import contact_reclassify
from contacts.audit import Action, Via, operator_action_record, pause_detail, payment_detail, verdict_detail
from contacts.forget import contact_forget
from contacts.models import Contact, OperatorAction, ScheduledCall
from contacts.phones import PhoneError, format_phone, normalize_phone
from contacts.services import contact_get_or_create, contact_pause_bot, contact_resume_bot
from followups.models import FollowUp
from messaging.models import Message
from messaging.number import NotOnWhatsApp, Whitelisted, operator_recipient_check
from messaging.services import message_enqueue_outbound
from payments.models import Payment
from payments.services import payment_check, payment_refund
from project.stats import stats_today

PHONE_PARAMETER = OpenApiParameter(
    "phone",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="The contact's number in any spelling: 77012345678, +7 (701) 234-56-78, 87012345678, "
    "77012345678@c.us (URL-encoded)",
    examples=[
        OpenApiExample("Digits", value="77012345678"),
        OpenApiExample("As people write it", value="+7 (701) 234-56-78"),
    ],
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses an endpoint can give, all in the one error shape."""
    meaning = {
        400: "Invalid request (see error.details)",
        401: "No or invalid credentials",
        403: "Not staff, or without the permission this action needs (the same as in the admin)",
        404: "Not found",
        409: "Refused in the current state",
        422: "Refused for this number",
        429: "Too many requests (error.details.retry_after)",
        503: "A dependency is unavailable",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=meaning[code]) for code in (401, 403, 429, *codes)}


def contact_by_phone(phone: str) -> Contact:
    """The contact with this number in any spelling; 400 for something that is not a number,
    404 for a number we do not know."""
    normalized = normalize_phone(phone)
    contact = Contact.objects.filter(phone=normalized).first()
    if contact is None:
        raise ContactNotFound(f"No contact with the number {format_phone(normalized)}.", details={"phone": normalized})
    return contact


def _query(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Contacts ----------------------------------------------------------------------------------


@extend_schema(
    tags=["contacts"],
    summary="List contacts",
    description="Newest conversation first, 50 a page. Filters combine with AND.",
    parameters=[ContactFilterSerializer],
    responses={200: ContactSerializer(many=True), **_errors(400, 404)},
    examples=[ex.CONTACT_PAGE],
)
class ContactListView(generics.ListAPIView):
    serializer_class = ContactSerializer

    def get_queryset(self) -> QuerySet[Contact]:
        filters = _query(ContactFilterSerializer, self.request)
        contacts = Contact.objects.all()
        if "is_client" in filters:
            contacts = contacts.filter(is_client=filters["is_client"])
        if "bot_mode" in filters:
            contacts = contacts.filter(bot_mode=filters["bot_mode"])
        if "opted_out" in filters:
            contacts = contacts.filter(opted_out_at__isnull=not filters["opted_out"])
        if "request_type" in filters:
            contacts = contacts.filter(request_type=filters["request_type"])
        if filters.get("search", "").strip():
            contacts = contacts.filter(_search(filters["search"].strip()))
        return contacts


def _search(term: str) -> Q:
    """A name fragment, or a number in any spelling (a fragment of digits matches too)."""
    found = Q()
    for field in ("name", "full_name", "push_name", "business_name"):
        found |= Q(**{f"{field}__icontains": term})
    try:
        found |= Q(phone=normalize_phone(term))
    except PhoneError:
        digits = "".join(ch for ch in term if ch.isdigit())
        if len(digits) >= 4 and len(digits) >= len(term.replace(" ", "")) - 4:
            found |= Q(phone__contains=digits)
    return found


@extend_schema(tags=["contacts"], parameters=[PHONE_PARAMETER])
class ContactDetailView(APIView):
    @extend_schema(
        summary="One contact",
        responses={200: ContactSerializer, **_errors(400, 404)},
        examples=[ex.CONTACT],
    )
    def get(self, request: Request, phone: str) -> Response:
        return Response(ContactSerializer(contact_by_phone(phone)).data)

    @extend_schema(
        summary="Forget a contact",
        description="Deletes the contact's messages, follow-ups, calls with their reminders and its "
        "classification history in one transaction. Payment records are kept, as the law requires, "
        "without the phone number; notices to managers that named the contact are redacted; the poller's "
        "state for the chat and the admin's log of changes to the contact go; the operators' actions on it "
        "keep who did what and when. A contact who had opted out stays opted out when the number comes back. "
        "The counts say what was touched.",
        responses={200: ForgetResultSerializer, **_errors(400, 404)},
        examples=[ex.FORGET],
    )
    def delete(self, request: Request, phone: str) -> Response:
        contact = contact_by_phone(phone)
        phone = contact.phone
        with transaction.atomic():
            removed = contact_forget(contact=contact)
            operator_action_record(actor=request.user, via=Via.API, action=Action.FORGET)
        return Response({"phone": phone, "removed": removed})


@extend_schema(
    tags=["contacts"],
    summary="A contact's messages",
    description="Newest first, 50 a page.",
    parameters=[PHONE_PARAMETER],
    responses={200: MessageSerializer(many=True), **_errors(400, 404)},
    examples=[ex.MESSAGE_PAGE],
)
class ContactMessagesView(generics.ListAPIView):
    serializer_class = MessageSerializer

    def get_queryset(self) -> QuerySet[Message]:
        contact = contact_by_phone(self.kwargs["phone"])
        return Message.objects.filter(contact=contact).select_related("contact").order_by("-timestamp", "-id")


@extend_schema(
    tags=["contacts"],
    summary="What operators did to a contact",
    description="The audit trail of operator actions on this contact, through the admin or the API "
    "(classify, re-classify, pause, resume, send, refund, cancel, follow-up and call actions): who, "
    "when, through which interface and a short detail. Newest first, 50 a page.",
    parameters=[PHONE_PARAMETER],
    responses={200: OperatorActionSerializer(many=True), **_errors(400, 404)},
    examples=[ex.ACTION_PAGE],
)
class ContactActionsView(generics.ListAPIView):
    serializer_class = OperatorActionSerializer

    def get_queryset(self) -> QuerySet[OperatorAction]:
        return OperatorAction.objects.filter(contact=contact_by_phone(self.kwargs["phone"])).order_by("-at", "-id")


@extend_schema(
    tags=["contacts"],
    summary="Re-classify a contact now (the model decides again)",
    description="Forces a re-classification, the same action as «Переклассифицировать моделью» in the "
    "admin: the moderator reads the contact's names and last 20 messages and its verdict is stored "
    "**even over an operator's verdict** (the model decides again; to keep an operator's verdict, do "
    "not call this). The contact's audit trail (classification log) records the verdict with who "
    "forced it (the token's user, `forced_by`) and when (`forced_at`). When the model gives no usable "
    "verdict the contact is left unchanged (an operator's verdict stands), the failure is logged with "
    "who forced it, and the answer is 503 `classification_failed`; 503 `model_unavailable` when the "
    "model cannot be reached.",
    parameters=[PHONE_PARAMETER],
    request=None,
    responses={200: ClassifyResultSerializer, **_errors(400, 404, 503)},
    examples=[ex.CLASSIFY],
)
class ContactClassifyView(APIView):
    def post(self, request: Request, phone: str) -> Response:
        contact = contact_by_phone(phone)
        forced_at = timezone.now()
        verdict = contact_reclassify(contact=contact, forced_by=request.user, forced_at=forced_at)
        if verdict is None:
            raise Unavailable(
                "The model gave no usable verdict; the contact is unchanged (see the classification log).",
                code="classification_failed",
            )
        contact.refresh_from_db()
        operator_action_record(
            actor=request.user,
            via=Via.API,
            action=Action.RECLASSIFY,
            contact=contact,
            detail=verdict_detail(verdict.is_client),
        )
        result = {
            "verdict": {
                "is_client": verdict.is_client,
                "confidence": verdict.confidence,
                "reasoning": verdict.reasoning,
                "request_type": verdict.request_type,
            },
            "applied": True,
            "forced_by": request.user.get_username(),
            "forced_at": forced_at,
            "contact": contact,
        }
        return Response(ClassifyResultSerializer(result).data)


@extend_schema(
    tags=["contacts"],
    summary="Pause the bot (an operator takes over)",
    description="The bot stays silent in this chat until `until`, or until resumed; proactive follow-ups stop.",
    parameters=[PHONE_PARAMETER],
    request=PauseSerializer,
    responses={200: ContactSerializer, **_errors(400, 404)},
    examples=[ex.PAUSE_REQUEST, ex.PAUSED_CONTACT],
)
class ContactPauseView(APIView):
    def post(self, request: Request, phone: str) -> Response:
        contact = contact_by_phone(phone)
        serializer = PauseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        until = serializer.validated_data.get("until")
        with transaction.atomic():
            contact = contact_pause_bot(contact=contact, until=until)
            operator_action_record(
                actor=request.user, via=Via.API, action=Action.PAUSE, contact=contact, detail=pause_detail(until)
            )
        return Response(ContactSerializer(contact).data)


@extend_schema(
    tags=["contacts"],
    summary="Resume the bot",
    description="Gives the chat back to the assistant.",
    parameters=[PHONE_PARAMETER],
    request=None,
    responses={200: ContactSerializer, **_errors(400, 404)},
    examples=[ex.CONTACT],
)
class ContactResumeView(APIView):
    def post(self, request: Request, phone: str) -> Response:
        with transaction.atomic():
            contact = contact_resume_bot(contact=contact_by_phone(phone))
            operator_action_record(actor=request.user, via=Via.API, action=Action.RESUME, contact=contact)
        return Response(ContactSerializer(contact).data)


# --- Messages ----------------------------------------------------------------------------------


@extend_schema(
    tags=["messages"],
    summary="A conversation by contact id",
    description="Newest first, 50 a page.",
    parameters=[OpenApiParameter("contact_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Contact id")],
    responses={200: MessageSerializer(many=True), **_errors(404)},
    examples=[ex.MESSAGE_PAGE],
)
class ConversationView(generics.ListAPIView):
    serializer_class = MessageSerializer

    def get_queryset(self) -> QuerySet[Message]:
        contact = Contact.objects.filter(pk=self.kwargs["contact_id"]).first()
        if contact is None:
            raise ContactNotFound(f"No contact with id {self.kwargs['contact_id']}.")
        return Message.objects.filter(contact=contact).select_related("contact").order_by("-timestamp", "-id")


@extend_schema(
    tags=["messages"],
    summary="Send an operator message",
    description="Writes the message to the outbox as the operator's; the sender delivers it through "
    "WhatsApp. A new number becomes a contact. The owners' whitelisted personal numbers are refused "
    "(422, whitelisted_number); so is a number that never wrote to us and that Wappi's contact check "
    "finds without WhatsApp (422, not_on_whatsapp).",
    request=SendMessageSerializer,
    responses={202: MessageSerializer, **_errors(400, 422)},
    examples=[ex.SEND_REQUEST, ex.QUEUED_MESSAGE],
)
class SendMessageView(APIView):
    def post(self, request: Request) -> Response:
        serializer = SendMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        phone = data["phone"]
        try:
            operator_recipient_check(phone=phone)
        except Whitelisted as exc:
            raise WhitelistedNumber(
                f"{format_phone(phone)} is on the whitelist of the owners' personal numbers: it is never messaged.",
                details={"phone": phone},
            ) from exc
        except NotOnWhatsApp as exc:
            raise NotOnWhatsAppNumber(
                f"{format_phone(phone)} is not on WhatsApp (Wappi's contact check): the message was not queued. "
                "Writing to numbers without WhatsApp gets the business's number restricted.",
                details={"phone": phone},
            ) from exc
        key = data.get("idempotency_key")
        with transaction.atomic():
            contact, _ = contact_get_or_create(phone=phone, defaults={"chat_id": f"{phone}@c.us"})
            message = message_enqueue_outbound(
                contact=contact,
                text=data["text"],
                author=Message.Author.OPERATOR,
                purpose=Message.Purpose.REPLY,
                idempotency_key=f"api:{key}" if key else None,
            )
            operator_action_record(
                actor=request.user, via=Via.API, action=Action.SEND, contact=contact, detail=f"сообщение #{message.pk}"
            )
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["messages"],
    summary="Latest messages of all conversations",
    description="Newest first, at most `limit` (1–1000, default 100).",
    parameters=[MessageLogFilterSerializer],
    responses={200: MessageSerializer(many=True), **_errors(400)},
    examples=[ex.MESSAGE_LIST],
)
class MessageLogView(APIView):
    def get(self, request: Request) -> Response:
        filters = _query(MessageLogFilterSerializer, request)
        messages = Message.objects.select_related("contact").order_by("-timestamp", "-id")
        if "direction" in filters:
            messages = messages.filter(direction=filters["direction"])
        return Response(MessageSerializer(messages[: filters["limit"]], many=True).data)


# --- Follow-ups and calls ----------------------------------------------------------------------


class _FollowUpListView(generics.ListAPIView):
    serializer_class = FollowUpSerializer

    def base(self) -> QuerySet[FollowUp]:
        filters = _query(FollowUpFilterSerializer, self.request)
        followups = (
            FollowUp.objects.filter(is_completed=False).select_related("contact").order_by("next_touch_at", "id")
        )
        if "phone" in filters:
            followups = followups.filter(contact__phone=filters["phone"])
        return followups


@extend_schema(
    tags=["follow-ups"],
    summary="Active follow-ups",
    description="Sequences still running, the next touch soonest first.",
    parameters=[FollowUpFilterSerializer],
    responses={200: FollowUpSerializer(many=True), **_errors(400, 404)},
    examples=[ex.FOLLOWUP_PAGE],
)
class FollowUpActiveView(_FollowUpListView):
    def get_queryset(self) -> QuerySet[FollowUp]:
        return self.base()


@extend_schema(
    tags=["follow-ups"],
    summary="Follow-ups due",
    description="Active follow-ups whose next touch is due now or overdue (the runner sends them in the send window).",
    parameters=[FollowUpFilterSerializer],
    responses={200: FollowUpSerializer(many=True), **_errors(400, 404)},
    examples=[ex.FOLLOWUP_PAGE],
)
class FollowUpPendingView(_FollowUpListView):
    def get_queryset(self) -> QuerySet[FollowUp]:
        return self.base().filter(next_touch_at__lte=timezone.now())


@extend_schema(
    tags=["calls"],
    summary="Scheduled calls",
    description="Calls with a manager, soonest first; `status=scheduled` for the ones still ahead.",
    parameters=[CallFilterSerializer],
    responses={200: ScheduledCallSerializer(many=True), **_errors(400, 404)},
    examples=[ex.CALL_PAGE],
)
class ScheduledCallListView(generics.ListAPIView):
    serializer_class = ScheduledCallSerializer

    def get_queryset(self) -> QuerySet[ScheduledCall]:
        filters = _query(CallFilterSerializer, self.request)
        calls = ScheduledCall.objects.select_related("contact").order_by("scheduled_at", "id")
        if "status" in filters:
            calls = calls.filter(status=filters["status"])
        if "phone" in filters:
            calls = calls.filter(contact__phone=filters["phone"])
        return calls


# --- Payments ----------------------------------------------------------------------------------


def _payment(pk: int) -> Payment:
    return get_object_or_404(Payment.objects.prefetch_related("refunds"), pk=pk)


PAYMENT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Payment id")


@extend_schema(
    tags=["payments"],
    summary="Kaspi Pay invoices",
    description="Newest first, with their refunds.",
    parameters=[PaymentFilterSerializer],
    responses={200: PaymentSerializer(many=True), **_errors(400, 404)},
    examples=[ex.PAYMENT_PAGE],
)
class PaymentListView(generics.ListAPIView):
    serializer_class = PaymentSerializer

    def get_queryset(self) -> QuerySet[Payment]:
        filters = _query(PaymentFilterSerializer, self.request)
        payments = Payment.objects.prefetch_related("refunds").order_by("-created_at", "-id")
        if "status" in filters:
            payments = payments.filter(status=filters["status"])
        if "phone" in filters:
            payments = payments.filter(contact__phone=filters["phone"])
        return payments


@extend_schema(
    tags=["payments"],
    summary="Ask Kaspi for an invoice's status",
    description="Returns the invoice as it now stands. Kaspi is asked at most once per "
    "PAYMENT_CHECK_DEBOUNCE_SECONDS per invoice, and only about an invoice it holds that is not final "
    "(otherwise the stored state comes back unchanged). A paid invoice is confirmed to the customer and "
    "the managers once. A Kaspi error is recorded in `last_error`, not raised.",
    parameters=[PAYMENT_ID],
    request=None,
    responses={200: PaymentSerializer, **_errors(404)},
    examples=[ex.PAYMENT],
)
class PaymentCheckView(APIView):
    def post(self, request: Request, pk: int) -> Response:
        payment = payment_check(payment=_payment(pk), reason="api")
        return Response(PaymentSerializer(_payment(payment.pk)).data)


@extend_schema(
    tags=["payments"],
    summary="Refund a paid invoice",
    description="`amount` in tenge, or omitted for everything still refundable. Never more than Kaspi "
    "says is available; Kaspi's refusals come back as 409 refund_refused.",
    parameters=[PAYMENT_ID],
    request=RefundRequestSerializer,
    responses={201: RefundSerializer, **_errors(400, 404, 409)},
    examples=[ex.REFUND_REQUEST, ex.REFUND],
)
class PaymentRefundView(APIView):
    def post(self, request: Request, pk: int) -> Response:
        payment = _payment(pk)
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = payment_refund(payment=payment, amount=serializer.validated_data.get("amount"), user=request.user)
        operator_action_record(
            actor=request.user,
            via=Via.API,
            action=Action.REFUND,
            contact=payment.contact,
            detail=payment_detail(payment_id=payment.pk, amount=refund.amount, state=refund.state),
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


# --- Stats -------------------------------------------------------------------------------------


@extend_schema(
    tags=["stats"],
    summary="Today's numbers",
    description="The same report as /stats: contacts, today's messages, outbox, queues, model usage, follow-ups.",
    responses={200: StatsSerializer, **_errors()},
    examples=[ex.STATS],
)
class StatsView(APIView):
    def get(self, request: Request) -> Response:
        return Response(stats_today())


# --- OpenAPI -----------------------------------------------------------------------------------


class _JsonErrors:
    """Errors as JSON even from views that render YAML or HTML when all is well."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return response


class SchemaView(_JsonErrors, SpectacularAPIView):
    """The OpenAPI 3 document: YAML by default, JSON with `?format=json`."""


class DocsView(_JsonErrors, SpectacularSwaggerView):
    """Swagger UI over the schema (staff only: a logged-in admin, or a token)."""
