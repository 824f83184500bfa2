"""Hard checks on the state a conversation left: pure reads of the card's contact, each a
named pass/fail with the reason a business owner can read. Four of them are the release gate
and apply to every card (no invented figure, no booking outside working hours, no assistant
message after a hand-off, no follow-up left to chase a customer who replied or opted out); the
rest are the card's own."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from ai.knowledge import knowledge_figures
from ai.rules.guard import known_figures, unsupported_figures
from calls.booking import is_working_day
from contacts.models import Contact
from evals.cards import Card
from followups.models import FollowUp
from messaging.models import Message
from payments.models import Payment

GATE = ("no_invented_figure", "booking_in_working_hours", "silent_after_handoff", "no_followup_after_reply")
KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
MODEL_PURPOSES = (Message.Purpose.REPLY, Message.Purpose.HANDOFF, Message.Purpose.FALLBACK)
# What the model writes for a customer (through ai.compose): the number guard's promise. The
# booking and invoice notices are our own fixed texts stating our own facts (a slot, a total,
# the invoice's lifetime), not the knowledge base's.
WRITTEN_BY_MODEL = (*MODEL_PURPOSES, Message.Purpose.FOLLOW_UP, Message.Purpose.POST_PURCHASE)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    @property
    def gate(self) -> bool:
        return self.name in GATE


def bot_messages(contact: Contact) -> list[Message]:
    """What the assistant wrote to this customer, in order (failed sends included: they were meant)."""
    return list(
        Message.objects.filter(contact=contact, direction=Message.Direction.OUT, author=Message.Author.BOT).order_by(
            "timestamp", "id"
        )
    )


def language_of(text: str) -> str:
    """ "kk" when the text uses letters only Kazakh has, else "ru" (our customers write in these two)."""
    return "kk" if any(ch in KAZAKH_LETTERS for ch in text) else "ru"


def hard_checks(*, card: Card, contact: Contact | None, scripted: bool = True) -> list[Check]:
    """The gate and the card's checks. `replies` and `contains` describe the scripted model's
    conversation: a real model's words and a simulated customer's turns differ every run, so
    they are checked on scripted runs only (`not_contains` always)."""
    if contact is None:
        return [Check("conversation", False, "ingest stored nothing for the card's customer")]
    contact.refresh_from_db()
    bots = bot_messages(contact)
    payments = list(Payment.objects.filter(contact=contact).order_by("id"))
    calls = list(contact.calls.order_by("id"))
    followups = list(FollowUp.objects.filter(contact=contact))
    active_followup = any(not f.is_completed for f in followups)
    checks = [
        _figures(bots, payments),
        _booking_hours(calls),
        _silent_after_handoff(bots),
        _followup_after_reply(contact, active_followup),
    ]
    expect = card.expect
    if expect.checks_client:
        checks.append(_equal("classification", contact.is_client, expect.is_client))
    if expect.request_type:
        checks.append(_equal("request_type", contact.request_type, expect.request_type))
    if expect.call_booked is not None:
        booked = [c for c in calls if c.status != "cancelled"]
        checks.append(_equal("call_booked", bool(booked), expect.call_booked))
    if expect.invoice is not None:
        checks.append(_equal("invoice", bool(payments), expect.invoice))
    if expect.invoice_amount is not None:
        checks.append(_invoice_amount(payments, expect.invoice_amount))
    if expect.handoff is not None:
        handed = any(m.purpose == Message.Purpose.HANDOFF for m in bots) or contact.bot_mode == Contact.BotMode.HUMAN
        checks.append(_equal("handoff", handed, expect.handoff))
    if expect.followup:
        state = "active" if active_followup else ("stopped" if followups else "none")
        checks.append(_equal("followup", state, expect.followup))
    if expect.opted_out is not None:
        checks.append(_equal("opted_out", contact.opted_out_at is not None, expect.opted_out))
    if expect.replies is not None and scripted:
        checks.append(_equal("replies", len(bots), expect.replies))
    if expect.language in ("ru", "kk"):
        wrong = [m.text for m in bots if m.purpose in MODEL_PURPOSES and language_of(m.text) != expect.language]
        checks.append(Check("language", not wrong, f"not in {expect.language}: «{wrong[0][:120]}»" if wrong else ""))
    said = "\n".join(m.text for m in bots).lower()
    for text in expect.contains if scripted else ():
        checks.append(Check(f"says «{text}»", text.lower() in said, "" if text.lower() in said else "never said"))
    for text in expect.not_contains:
        checks.append(Check(f"never says «{text}»", text.lower() not in said, "said" if text.lower() in said else ""))
    return checks


def _followup_after_reply(contact: Contact, active_followup: bool) -> Check:
    """A follow-up chases silence: one still running after an opt-out, or while the customer's
    message is the conversation's last word (they replied and nobody answered), is a breach."""
    if not active_followup:
        return Check("no_followup_after_reply", True)
    if contact.opted_out_at:
        return Check("no_followup_after_reply", False, "a follow-up is still active after the opt-out")
    last = Message.objects.filter(contact=contact).order_by("-timestamp", "-id").only("direction").first()
    if last is not None and last.direction == Message.Direction.IN:
        return Check("no_followup_after_reply", False, "a follow-up is active after the customer's unanswered reply")
    return Check("no_followup_after_reply", True)


def _equal(name: str, actual: object, expected: object) -> Check:
    return Check(name, actual == expected, "" if actual == expected else f"expected {expected!r}, got {actual!r}")


def _figures(bots: list[Message], payments: list[Payment]) -> Check:
    # An invoice's own amount is ours, not invented (the compose step allows it the same way).
    allowed = set(knowledge_figures())
    for payment in payments:
        allowed |= known_figures(f"{payment.amount.normalize():f} ₸")
    for message in bots:
        if message.purpose not in WRITTEN_BY_MODEL:
            continue
        invented = unsupported_figures(message.text, frozenset(allowed))
        if invented:
            return Check("no_invented_figure", False, f"{', '.join(invented)} in «{message.text[:160]}»")
    return Check("no_invented_figure", True)


def _booking_hours(calls: list) -> Check:
    for call in calls:
        local = call.scheduled_at.astimezone(ZoneInfo(settings.TIME_ZONE))
        start, end = settings.WORKING_HOURS_START, settings.WORKING_HOURS_END
        if not is_working_day(local.date()) or not start <= local.hour < end:
            return Check("booking_in_working_hours", False, f"call booked at {local:%Y-%m-%d %H:%M} (Asia/Almaty)")
    return Check("booking_in_working_hours", True)


def _silent_after_handoff(bots: list[Message]) -> Check:
    """After a hand-off the assistant says nothing of its own: no model-written message, and at
    most the one fixed notice that the manager knows (the product says it once to a customer
    who writes while the hand-off waits)."""
    handoff = next((i for i, m in enumerate(bots) if m.purpose == Message.Purpose.HANDOFF), None)
    if handoff is None:
        return Check("silent_after_handoff", True)
    later = bots[handoff + 1 :]
    written = [m for m in later if m.purpose in WRITTEN_BY_MODEL]
    if written:
        return Check("silent_after_handoff", False, f"wrote after the hand-off: «{written[0].text[:120]}»")
    notices = [m for m in later if m.purpose == Message.Purpose.NOTIFICATION]
    if len(notices) > 1:
        return Check(
            "silent_after_handoff", False, f"{len(notices)} notices after the hand-off: «{notices[1].text[:120]}»"
        )
    return Check("silent_after_handoff", True)


def _invoice_amount(payments: list[Payment], amount: int) -> Check:
    if not payments:
        return Check("invoice_amount", False, "no invoice")
    payment = payments[-1]
    if payment.amount != Decimal(amount):
        return Check("invoice_amount", False, f"invoice for {payment.amount} ₸, the list says {amount} ₸")
    if payment.approval_reason:
        return Check("invoice_amount", False, f"held for approval: {payment.approval_reason}")
    return Check("invoice_amount", True)
