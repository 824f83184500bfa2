"""Who did what to a customer: every operator action, through the admin or the API, leaves one
row (who, when, which interface, the contact, a short detail), shown on the contact's admin
page and readable through the API; once the contact is forgotten the rows keep only who did
what and when."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts.models import Contact
from messaging.models import Message
from payments.services import payment_request
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
PHONE = "77012345678"


@pytest.fixture
def boss(db):
    return get_user_model().objects.create_user("aigul", password="pw-0123456789", is_staff=True, is_superuser=True)


@pytest.fixture
def api(boss):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=boss).key}")
    return client


@pytest.fixture
def admin(client, boss):
    client.force_login(boss)
    return client


def actions_of(api, phone=PHONE) -> list[tuple[str, str, str]]:
    response = api.get(f"/api/contacts/{phone}/actions")
    assert response.status_code == 200, response.content
    return [(row["action"], row["via"], row["actor"]) for row in reversed(response.json()["results"])]


def test_api_actions_are_recorded_with_who_and_readable_through_the_api(api, fake_wappi):
    ContactFactory(phone=PHONE)

    api.post(f"/api/contacts/{PHONE}/pause", {}, format="json")
    api.post(f"/api/contacts/{PHONE}/resume")
    api.post("/api/messages/send", {"phone": PHONE, "text": "Добрый день!"}, format="json")

    assert actions_of(api) == [("pause", "api", "aigul"), ("resume", "api", "aigul"), ("send", "api", "aigul")]
    latest = api.get(f"/api/contacts/{PHONE}/actions").json()["results"][0]
    assert latest["at"]
    assert f"#{Message.objects.get().pk}" in latest["detail"]


def test_admin_bulk_actions_are_recorded_and_shown_on_the_contact_page(admin, api):
    contact = ContactFactory(phone=PHONE, is_client=None)

    for action in ("mark_client", "pause_bot", "resume_bot", "stop_followups"):
        admin.post("/admin/contacts/contact/", {"action": action, "_selected_action": [contact.pk], "index": 0})

    assert actions_of(api) == [
        ("classify", "admin", "aigul"),
        ("pause", "admin", "aigul"),
        ("resume", "admin", "aigul"),
        ("stop_followups", "admin", "aigul"),
    ]
    page = admin.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    assert "Действия операторов" in page
    assert "Пауза бота" in page
    assert "aigul" in page


def test_an_operator_message_from_the_admin_is_recorded(admin, api, fake_wappi):
    contact = ContactFactory(phone=PHONE)

    admin.post("/admin/messaging/message/add/", {"contact": contact.pk, "text": "Здравствуйте!"})

    assert Message.objects.filter(contact=contact).exists()
    assert actions_of(api) == [("send", "admin", "aigul")]


def test_a_refund_through_the_api_and_a_cancel_in_the_admin_are_recorded(admin, api, fake_kaspi, payment_settings):
    contact = ContactFactory(phone=PHONE)
    paid = payment_request(contact=contact, amount="1000", description="Кулер", created_by="ai").payment
    fake_kaspi.pay(paid.kaspi_payment_id)
    api.post(f"/api/payments/{paid.pk}/check")

    api.post(f"/api/payments/{paid.pk}/refund", {"amount": "300"}, format="json")
    unpaid = payment_request(contact=contact, amount="500", description="Фильтр", created_by="ai").payment
    admin.post("/admin/payments/payment/", {"action": "action_cancel", "_selected_action": [unpaid.pk], "index": 0})

    assert actions_of(api) == [("refund", "api", "aigul"), ("cancel_payment", "admin", "aigul")]


def test_after_forgetting_the_rows_keep_only_who_did_what_and_when(api, fake_wappi):
    from contacts.models import OperatorAction

    ContactFactory(phone=PHONE, name="Асель")
    api.post("/api/messages/send", {"phone": PHONE, "text": "Асель, ваш заказ готов"}, format="json")
    api.post(f"/api/contacts/{PHONE}/pause", {}, format="json")

    api.delete(f"/api/contacts/{PHONE}")

    assert not Contact.objects.filter(phone=PHONE).exists()
    rows = list(OperatorAction.objects.order_by("at").values("action", "via", "actor_name", "contact_id", "detail"))
    assert [(r["action"], r["actor_name"]) for r in rows] == [
        ("send", "aigul"),
        ("pause", "aigul"),
        ("forget", "aigul"),
    ]
    assert {r["contact_id"] for r in rows} == {None}
    assert {r["detail"] for r in rows} == {""}
