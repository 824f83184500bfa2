"""The API asks for the same Django model permissions as the admin, action by action: being
staff is not enough to erase a contact, refund money or message a number."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.permissions import PERMISSIONS
from api.urls import urlpatterns
from contacts.models import Contact
from messaging.models import Message
from payments.models import Payment, Refund
from payments.services import payment_request
from tests.api.conftest import error_of
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
PHONE = "77012345678"


def operator(*perms: str, superuser: bool = False) -> APIClient:
    """A staff member's API client holding exactly these permissions ("app.codename")."""
    user = get_user_model().objects.create_user(
        f"op{get_user_model().objects.count()}", password="not-used-1234", is_staff=True, is_superuser=superuser
    )
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def paid_invoice(contact, fake_kaspi) -> Payment:
    payment = payment_request(contact=contact, amount="1000", description="Кулер", created_by="ai").payment
    fake_kaspi.pay(payment.kaspi_payment_id)
    operator("payments.view_payment").post(f"/api/payments/{payment.pk}/check")
    return payment


def test_a_staff_member_without_delete_contact_cannot_forget_a_contact():
    ContactFactory(phone=PHONE)
    viewer = operator("contacts.view_contact", "contacts.change_contact")

    response = viewer.delete(f"/api/contacts/{PHONE}")

    assert response.status_code == 403, response.content
    assert error_of(response)["code"] == "permission_denied"
    assert "contacts.delete_contact" in error_of(response)["message"]
    assert Contact.objects.filter(phone=PHONE).exists()


def test_a_staff_member_with_delete_contact_can_forget_a_contact():
    ContactFactory(phone=PHONE)

    response = operator("contacts.delete_contact").delete(f"/api/contacts/{PHONE}")

    assert response.status_code == 200, response.content
    assert not Contact.objects.filter(phone=PHONE).exists()


def test_a_staff_member_without_change_payment_cannot_refund(fake_kaspi, payment_settings):
    payment = paid_invoice(ContactFactory(phone=PHONE), fake_kaspi)

    response = operator("payments.view_payment").post(f"/api/payments/{payment.pk}/refund", {}, format="json")

    assert response.status_code == 403, response.content
    assert error_of(response)["code"] == "permission_denied"
    assert not Refund.objects.exists()
    assert fake_kaspi.calls_to("payment/return") == []


def test_a_staff_member_with_change_payment_can_refund(fake_kaspi, payment_settings):
    payment = paid_invoice(ContactFactory(phone=PHONE), fake_kaspi)

    response = operator("payments.change_payment").post(f"/api/payments/{payment.pk}/refund", {}, format="json")

    assert response.status_code == 201, response.content
    assert Refund.objects.get().state == "done"


def test_sending_needs_add_message_and_reading_a_conversation_needs_view_message(fake_wappi):
    contact = ContactFactory(phone=PHONE)
    body = {"phone": PHONE, "text": "Добрый день!"}

    refused = operator("contacts.view_contact", "messaging.view_message").post(
        "/api/messages/send", body, format="json"
    )
    unread = operator("messaging.add_message").get(f"/api/messages/{contact.pk}")
    sent = operator("messaging.add_message").post("/api/messages/send", body, format="json")

    assert (refused.status_code, unread.status_code, sent.status_code) == (403, 403, 202)
    assert Message.objects.count() == 1


def test_pausing_needs_change_contact_and_reading_needs_view_contact():
    ContactFactory(phone=PHONE)
    viewer = operator("contacts.view_contact")

    assert viewer.get(f"/api/contacts/{PHONE}").status_code == 200
    assert viewer.post(f"/api/contacts/{PHONE}/pause", {}, format="json").status_code == 403
    assert operator().get(f"/api/contacts/{PHONE}").status_code == 403
    assert (
        operator("contacts.change_contact").post(f"/api/contacts/{PHONE}/pause", {}, format="json").status_code == 200
    )
    assert Contact.objects.get(phone=PHONE).bot_mode == "human"


def test_a_superuser_can_do_everything_without_explicit_permissions():
    ContactFactory(phone=PHONE)

    response = operator(superuser=True).delete(f"/api/contacts/{PHONE}")

    assert response.status_code == 200, response.content


def test_every_routed_endpoint_and_method_has_its_permissions_in_the_one_table():
    routed = {}
    for pattern in urlpatterns:
        view = getattr(pattern.callback, "view_class", None)
        if view is None or pattern.name in ("schema", "docs"):
            continue  # the catch-all JSON 404; the schema serves staff (SERVE_PERMISSIONS)
        routed[pattern.name] = {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}

    assert routed == {name: set(methods) for name, methods in PERMISSIONS.items()}
    for methods in PERMISSIONS.values():
        for perms in methods.values():
            for perm in perms:
                app_label, codename = perm.split(".")
                assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), perm
