"""Ingest: one code path for everything Wappi tells us, by webhook or by polling.

Each customer message is stored exactly once (the database's unique provider id decides
between a webhook and a poll racing for the same message), against the right contact, and
handed to the next step after the transaction commits. Whitelisted numbers are only
counted. Messages typed on the business phone become operator messages and hand the chat to
the human; the echo of our own API sends changes nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from contacts.models import Contact, WhitelistEntry
from contacts.selectors import NumbersScreen, numbers_screen
from contacts.services import contact_get_or_create, contact_pause_bot, contacts_create_missing
from messaging import number, suspicious
from messaging.models import GatewayState, Message
from messaging.services import handoff_human_answered
from messaging.signals import announce, inbound_stored
from messaging.wire import AuthorizationUpdate, DeliveryUpdate, Event, Ignored, Origin, WappiMessage
from project.lib.bulk import insert_new

log = structlog.get_logger(__name__)

# How far back an unmatched API echo may look for the outbound row it belongs to.
ECHO_MATCH_WINDOW = timedelta(minutes=15)

_STATUS_ORDER = ["queued", "sending", "sent", "delivered", "read"]
_NAME_FIELDS = ["name", "full_name", "push_name", "business_name"]


@dataclass
class IngestReport:
    stored: list[int] = field(default_factory=list)  # new inbound message ids
    duplicates: int = 0
    operator: int = 0
    echoes: int = 0
    whitelisted: int = 0
    deliveries: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def merge(self, other: IngestReport) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.operator += other.operator
        self.echoes += other.echoes
        self.whitelisted += other.whitelisted
        self.deliveries += other.deliveries
        self.skipped.update(other.skipped)


def ingest_events(*, events: Iterable[Event], via: str, now: datetime | None = None) -> IngestReport:
    """Applies a batch of parsed events (a webhook POST, a poll's page). Safe to call twice with
    the same events. The batch is one transaction with a constant number of round trips whatever
    its size: contacts fetched and created in bulk, customer messages inserted in one statement
    (the unique provider id drops what is known), the hand-offs announced once it commits. If the
    database refuses something no parser check foresaw, the batch is applied again event by
    event, each in its own savepoint, so the one bad event does not lose the others."""
    now = now or timezone.now()
    events = list(events)
    phones = {e.phone for e in events if isinstance(e, WappiMessage)}
    screen = numbers_screen(phones=phones)  # the whitelist and the opt-out registry, one query
    try:
        with transaction.atomic():
            report = IngestReport()
            _apply(events, screen=screen, via=via, now=now, report=report, bulk=True)
    except (DataError, IntegrityError) as exc:
        log.info("ingest.batch_refused", via=via, events=len(events), error=str(exc).splitlines()[0][:200])
        with transaction.atomic():
            report = IngestReport()
            _apply(events, screen=screen, via=via, now=now, report=report, bulk=False)
    if report.stored or report.duplicates or report.operator:
        log.info(
            "ingest.batch",
            via=via,
            stored=len(report.stored),
            duplicates=report.duplicates,
            operator=report.operator,
            echoes=report.echoes,
            whitelisted=report.whitelisted,
        )
    return report


def _apply(
    events: list[Event], *, screen: NumbersScreen, via: str, now: datetime, report: IngestReport, bulk: bool
) -> None:
    whitelisted = screen.whitelisted
    skipped_whitelisted: Counter[str] = Counter()
    customer: list[WappiMessage] = []
    for event in events:
        if isinstance(event, WappiMessage):
            if event.phone in whitelisted:
                skipped_whitelisted[event.phone] += 1
                report.whitelisted += 1
            elif event.origin == Origin.CUSTOMER and bulk:
                customer.append(event)
            else:
                _apply_one(event, via=via, now=now, report=report)
        elif isinstance(event, DeliveryUpdate):
            report.deliveries += delivery_apply(event)
            if event.status == "failed":
                number.number_delivery_failed(status=event.detail, now=now)
        elif isinstance(event, AuthorizationUpdate):
            GatewayState.objects.update_or_create(
                pk=1, defaults={"authorized": event.online, "auth_error": event.reason, "auth_checked_at": now}
            )
            number.number_authorization_changed(online=event.online, detail=event.reason, now=now)
        elif isinstance(event, Ignored):
            report.skipped[event.reason] += 1
            log.info("ingest.rejected", via=via, reason=_masked(event.reason), provider_id=event.provider_id[:128])
    for phone, count in skipped_whitelisted.items():
        _count_whitelisted(phone, now, count)
    if customer:
        _ingest_customer_batch(customer, via=via, now=now, report=report, opted_out=screen.opted_out)


def _apply_one(event: WappiMessage, *, via: str, now: datetime, report: IngestReport) -> None:
    try:
        # One event that the database refuses (data no parser check foresaw) must not lose the
        # others of its batch: its own savepoint, a log line, and on.
        with transaction.atomic():
            if event.origin == Origin.CUSTOMER:
                _ingest_customer_message(event, via=via, now=now, report=report)
            else:
                # Typed on the phone, or sent through the API by something other than us (a
                # CRM, Wappi's web chat): unless it is the echo of our own send, a person wrote it.
                _ingest_operator_message(event, via=via, now=now, report=report)
    except (DataError, IntegrityError) as exc:
        report.skipped["refused by the database"] += 1
        log.warning(
            "ingest.rejected",
            via=via,
            reason="refused by the database",
            provider_id=event.provider_id[:128],
            error=str(exc).splitlines()[0][:200],
        )


_LONG_NUMBER = re.compile(r"\d{7,}")


def _masked(text: str) -> str:
    """A reason that quotes a chat id may hold a phone number: only its last 4 digits are logged."""
    return _LONG_NUMBER.sub(lambda m: "…" + m.group()[-4:], text)


def _count_whitelisted(phone: str, now: datetime, count: int = 1) -> None:
    WhitelistEntry.objects.filter(phone=phone).update(
        skipped_messages=F("skipped_messages") + count, last_skipped_at=now
    )


def _names(event: WappiMessage) -> dict[str, str]:
    names = {
        "name": event.contact.get("first_name", ""),
        "full_name": event.contact.get("full_name", ""),
        "push_name": event.contact.get("push_name", "")
        or (event.sender_name if event.origin == Origin.CUSTOMER else ""),
        "business_name": event.contact.get("business_name", ""),
    }
    return {k: v[:255] for k, v in names.items() if v}


def _contact_for(event: WappiMessage) -> Contact:
    names = _names(event)
    contact, created = contact_get_or_create(phone=event.phone, defaults={"chat_id": event.chat_id[:64], **names})
    if created:
        suspicious.contact_created_watch(contact=contact)
    if not created:
        changed = {k: v for k, v in names.items() if getattr(contact, k) != v}
        if not contact.chat_id:
            changed["chat_id"] = event.chat_id[:64]
        if changed:
            Contact.objects.filter(pk=contact.pk).update(**changed, updated_at=timezone.now())
            for k, v in changed.items():
                setattr(contact, k, v)
    return contact


def _inbound_row(event: WappiMessage, *, contact: Contact, reply_to_id: int | None, via: str, now: datetime) -> Message:
    """The (unsaved) row of a customer's message, for the batch insert and the one-by-one path alike."""
    return Message(
        contact=contact,
        direction=Message.Direction.IN,
        author=Message.Author.CUSTOMER,
        provider_message_id=event.provider_id,
        text=event.text,
        is_voice=event.is_voice,
        voice_status=Message.VoiceStatus.PENDING if event.is_voice else "",
        media_type=event.type,
        media_url=event.media_url[:2048],
        timestamp=event.sent_at,
        sent_at=event.sent_at,
        received_at=now,
        reply_to_id=reply_to_id,
        ingested_via=via,
    )


def _contacts_for_batch(
    events: list[WappiMessage], *, now: datetime, opted_out: dict[str, datetime]
) -> tuple[dict[str, Contact], list[Contact]]:
    """The batch's contacts by phone, locked (in id order, so concurrent batches never
    deadlock) and created in bulk where missing; names the events carry are brought up to
    date. Returns them and the ones created. One to three queries whatever the batch's size.

    A contact is created with the inbound times its messages will give it (`_with_first_stamps`),
    so a new number's POST needs no UPDATE after its messages; the returned objects hold the
    times from before those messages (none), as the known contacts do."""
    phones = sorted({e.phone for e in events})
    contacts = {c.phone: c for c in Contact.objects.select_for_update().filter(phone__in=phones).order_by("pk")}
    created: list[Contact] = []
    first_event = {}
    for event in events:
        first_event.setdefault(event.phone, event)
    # In phone order, like the locks: two batches creating the same contacts wait for each
    # other in one order, never in a cycle.
    missing = {
        phone: Contact(phone=phone, chat_id=first_event[phone].chat_id[:64], **_names(first_event[phone]))
        for phone in phones
        if phone not in contacts
    }
    if missing:
        by_phone: dict[str, list[WappiMessage]] = {}
        for event in events:
            by_phone.setdefault(event.phone, []).append(event)
        for contact in missing.values():
            _with_first_stamps(contact, by_phone[contact.phone], now=now)
        created = contacts_create_missing(list(missing.values()), remembered=opted_out)
        for contact in missing.values():
            contact.first_inbound_at = contact.last_inbound_at = contact.reply_due_at = None
        contacts.update({c.phone: c for c in created})
        raced = [phone for phone in missing if phone not in contacts]  # created by a concurrent batch meanwhile
        if raced:
            contacts.update({c.phone: c for c in Contact.objects.select_for_update().filter(phone__in=raced)})
    return contacts, created


def _with_first_stamps(contact: Contact, events: list[WappiMessage], *, now: datetime) -> None:
    """Sets a new contact's inbound times and quiet window as its events will leave them once
    stored (the loop in _ingest_customer_batch, from no times at all), and remembers them: a
    contact whose stamps come out the same needs no UPDATE (`_stamps_changed`)."""
    contact.first_inbound_at = min(e.sent_at for e in events)
    contact.last_inbound_at = max(e.sent_at for e in events)
    typed = any(not e.is_voice for e in events)
    contact.reply_due_at = now + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS) if typed else None
    contact._inserted_stamps = _stamps(contact)


def _stamps(contact: Contact) -> tuple[datetime | None, datetime | None, datetime | None]:
    return (contact.first_inbound_at, contact.last_inbound_at, contact.reply_due_at)


def _stamps_changed(contact: Contact) -> bool:
    """Whether the row's inbound times differ from the contact's (a contact created by this batch
    holds what it was inserted with; a re-delivered message may have left it without times)."""
    return getattr(contact, "_inserted_stamps", None) != _stamps(contact)


def _ingest_customer_batch(
    events: list[WappiMessage], *, via: str, now: datetime, report: IngestReport, opted_out: dict[str, datetime]
) -> None:
    contacts, created = _contacts_for_batch(events, now=now, opted_out=opted_out)
    renamed: set[int] = set()
    for event in events:
        contact = contacts[event.phone]
        updates = {k: v for k, v in _names(event).items() if getattr(contact, k) != v}
        if not contact.chat_id:
            updates["chat_id"] = event.chat_id[:64]
        if updates and contact not in created:
            for k, v in updates.items():
                setattr(contact, k, v)
            contact.updated_at = now
            renamed.add(contact.pk)
    reply_ids = {e.reply_to_id for e in events if e.reply_to_id}
    replied = (
        dict(Message.objects.filter(provider_message_id__in=reply_ids).values_list("provider_message_id", "pk"))
        if reply_ids
        else {}
    )
    rows: dict[str, Message] = {}
    for event in events:
        if event.provider_id in rows:
            continue  # the same message twice in one batch: the second is a duplicate below
        rows[event.provider_id] = _inbound_row(
            event,
            contact=contacts[event.phone],
            reply_to_id=replied.get(event.reply_to_id) if event.reply_to_id else None,
            via=via,
            now=now,
        )
    stored = insert_new(list(rows.values()), key="provider_message_id")
    report.duplicates += len(events) - len(stored)
    due = now + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS)
    burst_opened: dict[int, Message] = {}  # contact id -> the message whose task answers the burst
    stamped: dict[int, Contact] = {}
    for message in stored:
        report.stored.append(message.pk)
        contact = message.contact
        contact.first_inbound_at = min(contact.first_inbound_at or message.sent_at, message.sent_at)
        contact.last_inbound_at = max(contact.last_inbound_at or message.sent_at, message.sent_at)
        stamped[contact.pk] = contact
        if message.is_voice:
            continue  # answered once transcribed (transcript_ready), from its own arrival
        # The burst's quiet window moves on; a message that opens a burst schedules its run.
        if _opens_burst(contact.reply_due_at, now) or contact.pk in burst_opened:
            burst_opened[contact.pk] = message
        contact.reply_due_at = due
    if renamed:  # rare: a customer changed their WhatsApp name
        Contact.objects.bulk_update(
            [c for c in contacts.values() if c.pk in renamed], [*_NAME_FIELDS, "chat_id", "updated_at"]
        )
    # The batch's new contacts were inserted with their times: only a difference is written
    # (one whose messages were all re-deliveries goes back to none).
    for contact in created:
        stamped.setdefault(contact.pk, contact)
    _stamp_inbound([c for c in stamped.values() if _stamps_changed(c)])
    suspicious.contacts_created_watch(count=len(created), now=now)
    suspicious.inbound_batch_watch(messages=[(m.contact, m.text) for m in stored], now=now)
    hand_offs = [(m.pk, m.is_voice, due if burst_opened.get(m.contact_id) is m else None) for m in stored]

    def after_commit() -> None:
        # Robust: a broker outage must not undo or interrupt the ingest; the inbound sweeper
        # hands over whatever was stored but not taken.
        for pk, voice, reply_due_at in hand_offs:
            announce(
                inbound_stored,
                message_id=pk,
                awaiting_transcription=voice,
                reply_due_at=reply_due_at,
                failure_event="ingest.hand_off_failed",
            )

    if stored:
        transaction.on_commit(after_commit, robust=True)


def _stamp_inbound(contacts: list[Contact]) -> None:
    """Writes the contacts' inbound times and quiet windows (as set on the locked rows) in one
    UPDATE ... FROM (VALUES ...) statement on PostgreSQL; elsewhere (SQLite in `make run`) with
    Django's bulk_update, one CASE statement."""
    if not contacts:
        return
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(contacts, ["first_inbound_at", "last_inbound_at", "reply_due_at"])
        return
    table = connection.ops.quote_name(Contact._meta.db_table)
    values = ", ".join(["(%s, %s::timestamptz, %s::timestamptz, %s::timestamptz)"] * len(contacts))
    params = [v for c in contacts for v in (c.pk, c.first_inbound_at, c.last_inbound_at, c.reply_due_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET first_inbound_at = v.f, last_inbound_at = v.l, reply_due_at = v.d "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, f, l, d) WHERE c.id = v.id",
            params,
        )


def _opens_burst(previous_due: datetime | None, now: datetime) -> bool:
    """Whether a new message needs a run scheduled. While the contact's window is open (its due
    time ahead) a run is scheduled for it, at or before that time, and waits for the moved end;
    a window that is over was answered, is being answered (that run leaves newer messages
    alone) or lost its run: the message opens a new burst and schedules its run."""
    return previous_due is None or previous_due <= now


def _insert_once(message: Message) -> bool:
    """Inserts unless a row with the same provider id exists; the unique index decides."""
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        return False
    return True


@transaction.atomic
def _ingest_customer_message(event: WappiMessage, *, via: str, now: datetime, report: IngestReport) -> None:
    contact = _contact_for(event)
    reply_to = None
    if event.reply_to_id:
        reply_to = Message.objects.filter(provider_message_id=event.reply_to_id).only("pk").first()
    message = _inbound_row(event, contact=contact, reply_to_id=reply_to.pk if reply_to else None, via=via, now=now)
    if not _insert_once(message):
        report.duplicates += 1
        return
    due = now + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS)
    opens_burst = False
    if not event.is_voice:  # a voice note is answered once transcribed
        previous_due = (
            Contact.objects.select_for_update().filter(pk=contact.pk).values_list("reply_due_at", flat=True).first()
        )
        opens_burst = _opens_burst(previous_due, now)
    Contact.objects.filter(pk=contact.pk).update(
        first_inbound_at=Coalesce("first_inbound_at", event.sent_at),
        last_inbound_at=Greatest(Coalesce("last_inbound_at", event.sent_at), event.sent_at),
        **({} if event.is_voice else {"reply_due_at": due}),
    )
    report.stored.append(message.pk)
    suspicious.inbound_watch(contact=contact, text=event.text, now=now)
    transaction.on_commit(
        lambda pk=message.pk, voice=event.is_voice: announce(
            inbound_stored,
            message_id=pk,
            awaiting_transcription=voice,
            reply_due_at=due if opens_burst else None,
            failure_event="ingest.hand_off_failed",
        ),
        robust=True,
    )


@transaction.atomic
def _ingest_operator_message(event: WappiMessage, *, via: str, now: datetime, report: IngestReport) -> None:
    contact = _contact_for(event)
    if _claim_as_echo(contact=contact, event=event):
        report.echoes += 1
        return
    message = Message(
        contact=contact,
        direction=Message.Direction.OUT,
        author=Message.Author.OPERATOR,
        purpose=Message.Purpose.REPLY,
        status=Message.Status.SENT,
        provider_message_id=event.provider_id,
        text=event.text,
        media_type=event.type,
        timestamp=event.sent_at,
        sent_at=event.sent_at,
        received_at=now,
        ingested_via=via,
    )
    if not _insert_once(message):
        report.echoes += 1  # already known: our own send, or the same operator message again
        return
    Contact.objects.filter(pk=contact.pk).update(
        first_outbound_at=Coalesce("first_outbound_at", event.sent_at),
        last_outbound_at=Greatest(Coalesce("last_outbound_at", event.sent_at), event.sent_at),
    )
    # A person answered from the business phone: an open hand-off is answered, and the bot steps
    # back for a while. A pause only ever grows: an indefinite takeover from the admin
    # (paused_until empty) stays indefinite, except a hand-off's, which a human answer turns into
    # the humans' silence timer.
    handoff_human_answered(contact=contact, now=now)
    until = now + timedelta(hours=settings.BOT_PAUSE_AFTER_OPERATOR)
    if not contact.bot_is_paused(now) or (contact.paused_until and contact.paused_until < until):
        contact_pause_bot(contact=contact, until=until, now=now)
    report.operator += 1
    log.info("ingest.operator_took_over", contact_id=contact.pk, hours=settings.BOT_PAUSE_AFTER_OPERATOR)


def _claim_as_echo(*, contact: Contact, event: WappiMessage) -> bool:
    """Our own send seen before the sender stored its provider id (an echo racing the
    send's response): attach the id instead of mistaking it for an operator. Only a row that
    is being sent right now can be echoed; a queued one has not left us yet."""
    if Message.objects.filter(provider_message_id=event.provider_id).exists():
        return True
    pending = (
        Message.objects.select_for_update()
        .filter(
            contact=contact,
            direction=Message.Direction.OUT,
            provider_message_id__isnull=True,
            status=Message.Status.SENDING,
            text=event.text,
            updated_at__gte=timezone.now() - ECHO_MATCH_WINDOW,
        )
        .order_by("created_at")
        .first()
    )
    if pending is None:
        return False
    Message.objects.filter(pk=pending.pk).update(
        provider_message_id=event.provider_id, status=Message.Status.SENT, sent_at=event.sent_at, last_error=""
    )
    return True


def delivery_apply(update: DeliveryUpdate) -> int:
    """Moves an outbound message forward (sent -> delivered -> read); never backwards."""
    if update.status == "failed":
        return Message.objects.filter(
            provider_message_id=update.provider_id,
            direction=Message.Direction.OUT,
            status__in=[Message.Status.SENDING, Message.Status.SENT],
        ).update(status=Message.Status.FAILED, last_error=f"WhatsApp: {update.detail}", updated_at=timezone.now())
    earlier = _STATUS_ORDER[: _STATUS_ORDER.index(update.status)]
    stamp = {"delivered_at": update.at} if update.status == "delivered" else {"read_at": update.at}
    return (
        Message.objects.filter(provider_message_id=update.provider_id, direction=Message.Direction.OUT)
        .filter(Q(status__in=earlier))
        .update(status=update.status, updated_at=timezone.now(), **stamp)
    )
