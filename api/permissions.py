"""Who may do what through the API: the same Django model permissions the admin asks for,
action by action, in one table. Being staff is necessary, never sufficient; a superuser holds
every permission. An endpoint or method missing from the table is refused (fail closed), and
tests/api/test_permissions.py checks that every routed endpoint is in it."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

_VIEW_CONTACT = ("contacts.view_contact",)

# URL name (api/urls.py) -> HTTP method -> the permissions it needs, as in the admin:
# reading needs view_*, classify / pause / resume need change_contact (the admin's contact
# actions), forgetting needs delete_contact (the admin's delete), sending needs add_message
# (the admin's "add message"), a refund needs change_payment (the admin's refund page); a
# status check needs only view_payment, as opening an invoice in the admin checks it.
PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {"GET": _VIEW_CONTACT},
    "contact": {"GET": _VIEW_CONTACT, "DELETE": ("contacts.delete_contact",)},
    "contact-messages": {"GET": ("contacts.view_contact", "messaging.view_message")},
    "contact-actions": {"GET": ("contacts.view_contact", "contacts.view_operatoraction")},
    "contact-classify": {"POST": ("contacts.change_contact",)},
    "contact-pause": {"POST": ("contacts.change_contact",)},
    "contact-resume": {"POST": ("contacts.change_contact",)},
    "message-send": {"POST": ("messaging.add_message",)},
    "conversation": {"GET": ("messaging.view_message",)},
    "message-log": {"GET": ("messaging.view_message",)},
    "followups-active": {"GET": ("followups.view_followup",)},
    "followups-pending": {"GET": ("followups.view_followup",)},
    "calls": {"GET": ("contacts.view_scheduledcall",)},
    "payments": {"GET": ("payments.view_payment",)},
    "payment-check": {"POST": ("payments.view_payment",)},
    "payment-refund": {"POST": ("payments.change_payment",)},
    # Today's counts only (no person in them), as /stats shows any staff member.
    "stats": {"GET": ()},
}


def required_permissions(url_name: str | None, method: str) -> tuple[str, ...] | None:
    """The permissions a request needs, or None when the table does not allow it at all.
    HEAD and OPTIONS need what GET needs."""
    methods = PERMISSIONS.get(url_name or "")
    if methods is None:
        return None
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return methods.get(method)


class StaffModelPermissions(BasePermission):
    """An authenticated, active staff member holding the table's permissions for this action."""

    message = "Only staff can use the API."
    code = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        match = getattr(request, "resolver_match", None)
        needed = required_permissions(match.url_name if match else None, request.method or "")
        if needed is None:
            self.message = "This action is not open to anyone through the API."
            return False
        missing = [perm for perm in needed if not user.has_perm(perm)]
        if missing:
            self.message = f"Your account lacks the permission to do this: {', '.join(missing)}."
            return False
        return True
