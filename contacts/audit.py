"""The audit trail of operator actions: the one place that writes it. The admin and the API
call operator_action_record after each action an operator takes on a customer's behalf."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from django.utils import timezone

from contacts.models import Contact, OperatorAction

log = structlog.get_logger(__name__)

Action = OperatorAction.Action
Via = OperatorAction.Via


def operator_action_record(
    *, actor: Any, via: str, action: str, contact: Contact | None = None, detail: str = ""
) -> OperatorAction:
    """Records that `actor` (a user, or None when not known) did `action` (OperatorAction.Action)
    through `via` (OperatorAction.Via) to `contact`, with a short `detail` (no phone numbers:
    ids, amounts, the verdict)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    row = OperatorAction.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else "",
        via=via,
        action=action,
        contact=contact if contact is not None and contact.pk else None,
        detail=detail[:255],
    )
    log.info("operator.action", action=action, via=via, actor_id=row.actor_id, contact_id=row.contact_id)
    return row


def operator_actions_anonymise(*, contact: Contact) -> int:
    """The contact's rows keep who did what and when, nothing about the person (the contact
    is being forgotten). Returns how many rows."""
    return OperatorAction.objects.filter(contact=contact).update(contact=None, detail="")


# --- Details: the same words whichever interface the action came through ---------------------


def verdict_detail(is_client: bool | None) -> str:
    return {True: "клиент", False: "не клиент", None: "неизвестно"}[is_client]


def pause_detail(until: datetime | None) -> str:
    if until is None:
        return "до ручного возобновления"
    return f"до {timezone.localtime(until):%d.%m.%Y %H:%M}"


def payment_detail(*, payment_id: int, amount: Decimal | None = None, state: str = "") -> str:
    parts = [f"счёт #{payment_id}"]
    if amount is not None:
        parts.append(f"{amount} ₸")
    if state:
        parts.append(state)
    return ", ".join(parts)
