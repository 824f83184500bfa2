"""Contacts: listing with filters and pages, lookup by any spelling, classify, pause and resume."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from ai.models import ClassificationRecord
from contacts.models import Contact
from contacts.services import contact_set_client_status
from followups.models import FollowUp
from tests.api.conftest import error_of
from tests.factories import ContactFactory, FollowUpFactory, InboundMessageFactory, OutboundMessageFactory

pytestmark = pytest.mark.django_db


def phones(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["phone"] for row in response.json()["results"]}


@pytest.fixture
def people():
    return {
        "client": ContactFactory(phone="77010000001", is_client=True, name="Асель", request_type="sales"),
        "spam": ContactFactory(phone="77010000002", is_client=False, name="Реклама", request_type="general"),
        "unknown": ContactFactory(phone="77010000003", is_client=None, name="Бекзат"),
        "paused": ContactFactory(
            phone="77010000004", is_client=True, name="Ерлан", bot_mode="human", request_type="complaint"
        ),
        "opted_out": ContactFactory(phone="77010000005", is_client=True, name="Дина", opted_out_at=timezone.now()),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("is_client=true", {"client", "paused", "opted_out"}),
        ("is_client=false", {"spam"}),
        ("is_client=null", {"unknown"}),
        ("bot_mode=human", {"paused"}),
        ("opted_out=true", {"opted_out"}),
        ("opted_out=false&is_client=true", {"client", "paused"}),
        ("request_type=complaint", {"paused"}),
        ("search=асель", {"client"}),
        ("search=%2B7%20(701)%20000-00-02", {"spam"}),
        ("search=87010000003", {"unknown"}),
        ("", {"client", "spam", "unknown", "paused", "opted_out"}),
    ],
)
def test_contacts_are_filtered(api, people, query, expected):
    response = api.get(f"/api/contacts?{query}")

    assert phones(response) == {people[name].phone for name in expected}


def test_an_invalid_filter_value_is_a_400_naming_the_field(api, people):
    response = api.get("/api/contacts?is_client=maybe&bot_mode=robot")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"is_client", "bot_mode"}


def test_contacts_come_in_pages_of_50(api):
    ContactFactory.create_batch(55)

    first = api.get("/api/contacts").json()
    second = api.get(first["next"]).json()

    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert {c["id"] for c in first["results"]}.isdisjoint({c["id"] for c in second["results"]})
    assert len(api.get("/api/contacts?page_size=10").json()["results"]) == 10
    assert error_of(api.get("/api/contacts?page=9"))["code"] == "not_found"


@pytest.mark.parametrize(
    "spelling", ["77012345678", "+77012345678", "+7 (701) 234-56-78", "87012345678", "77012345678@c.us"]
)
def test_a_contact_is_found_by_any_spelling_of_its_number(api, spelling):
    contact = ContactFactory(phone="77012345678", name="Асель")

    response = api.get(f"/api/contacts/{quote(spelling)}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["phone"], body["phone_display"]) == (contact.pk, "77012345678", "+7 701 234 56 78")


def test_an_unknown_number_is_a_404_and_garbage_a_400(api):
    unknown = api.get("/api/contacts/77019998877")
    garbage = api.get("/api/contacts/not-a-phone")
    group = api.get(f"/api/contacts/{quote('120363025246125486@g.us')}")

    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "contact_not_found"
    assert "+7 701 999 88 77" in error_of(unknown)["message"]
    assert (garbage.status_code, error_of(garbage)["code"]) == (400, "invalid_phone")
    assert (group.status_code, error_of(group)["code"]) == (400, "invalid_phone")


def test_a_contacts_messages_newest_first_by_phone_and_by_id(api):
    contact = ContactFactory(phone="77012345678")
    now = timezone.now()
    question = InboundMessageFactory(contact=contact, text="Сколько стоит?", timestamp=now - timedelta(minutes=2))
    answer = OutboundMessageFactory(contact=contact, text="25 000 ₸", timestamp=now - timedelta(minutes=1))
    InboundMessageFactory(text="чужое сообщение")

    by_phone = api.get("/api/contacts/8 701 234 56 78/messages").json()["results"]
    by_id = api.get(f"/api/messages/{contact.pk}").json()["results"]

    assert [m["id"] for m in by_phone] == [answer.pk, question.pk]
    assert by_id == by_phone
    assert by_phone[1]["direction"] == "in"
    assert by_phone[0]["author"] == "bot"
    assert error_of(api.get("/api/messages/999999"))["code"] == "contact_not_found"


def test_classify_runs_the_moderator_now_and_returns_its_verdict(api):
    contact = ContactFactory(phone="77012345678", is_client=None)
    InboundMessageFactory(contact=contact, text="Здравствуйте! Сколько стоит кулер и есть ли доставка в Алматы?")

    response = api.post("/api/contacts/77012345678/classify")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["verdict"]["is_client"] is True
    assert body["verdict"]["request_type"] == "sales"
    assert body["applied"] is True
    assert body["contact"]["is_client"] is True
    contact.refresh_from_db()
    assert (contact.is_client, contact.classified_by) == (True, "model")
    assert ClassificationRecord.objects.filter(contact=contact, source="model").count() == 1


def test_classify_lets_the_model_decide_again_over_an_operators_verdict_and_says_who_forced_it(api, staff_user):
    contact = ContactFactory(phone="77012345678")
    contact_set_client_status(contact=contact, is_client=False, reasoning="знакомый владельца", by="operator")
    InboundMessageFactory(contact=contact, text="Сколько стоит кулер? Хочу купить два")
    before = timezone.now()

    body = api.post("/api/contacts/77012345678/classify").json()

    assert body["verdict"]["is_client"] is True
    assert body["applied"] is True
    assert (body["contact"]["is_client"], body["contact"]["classified_by"]) == (True, "model")
    assert body["forced_by"] == "operator"
    record = ClassificationRecord.objects.filter(contact=contact).latest("created_at", "pk")
    assert (record.source, record.forced_by) == ("model", staff_user)
    assert record.forced_at >= before
    assert body["forced_at"] == timezone.localtime(record.forced_at).isoformat()


def test_pause_hands_the_chat_to_a_human_and_stops_follow_ups_and_resume_gives_it_back(api):
    contact = ContactFactory(phone="77012345678", is_client=True, request_type="complaint")
    followup = FollowUpFactory(contact=contact)
    until = timezone.now() + timedelta(hours=3)

    paused = api.post("/api/contacts/+77012345678/pause", {"until": until.isoformat()}, format="json")

    assert paused.status_code == 200, paused.content
    assert (paused.json()["bot_mode"], paused.json()["bot_paused"]) == ("human", True)
    contact.refresh_from_db()
    assert contact.bot_is_paused()
    assert abs(contact.paused_until - until) < timedelta(seconds=1)
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason) == (True, FollowUp.StopReason.HUMAN_TOOK_OVER)

    resumed = api.post("/api/contacts/+77012345678/resume")

    assert resumed.status_code == 200
    assert (resumed.json()["bot_mode"], resumed.json()["bot_paused"]) == ("ai", False)
    contact.refresh_from_db()
    assert not contact.bot_is_paused()
    assert contact.request_type == Contact.RequestType.GENERAL


def test_pause_without_a_time_lasts_until_resumed_and_a_past_time_is_refused(api):
    contact = ContactFactory(phone="77012345678")

    past = api.post("/api/contacts/77012345678/pause", {"until": "2020-01-01T10:00:00+05:00"}, format="json")
    indefinite = api.post("/api/contacts/77012345678/pause")

    assert past.status_code == 400
    assert "until" in error_of(past)["details"]
    assert indefinite.status_code == 200
    contact.refresh_from_db()
    assert (contact.bot_mode, contact.paused_until) == ("human", None)
