"""The conversation checks in the admin: an operator queues a run of a card or the suite and
reads its report; marking a bot message as wrong drafts a card from the conversation; a
drafted card goes when its contact is forgotten."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.forget import contact_forget
from evals.cards import card_parse
from evals.models import CardDraft, EvalRun
from evals.services import eval_run_execute
from messaging.models import Message
from tests.factories import ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.processes import server_env

pytestmark = pytest.mark.django_db


def test_an_operator_queues_a_run_of_a_category(admin_client, django_capture_on_commit_callbacks, published_calls):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:evals_evalrun_add"), {"chosen": ["booking", "price-19l-ru"]})

    assert response.status_code == 302
    run = EvalRun.objects.get()
    assert (run.cards, run.status) == ("booking,price-19l-ru", "queued")
    assert run.requested_by is not None
    assert published_calls == [("evals.run", run.pk)]


def test_the_report_of_a_run_opens_from_the_admin_without_running_scripts(admin_client):
    run = EvalRun.objects.create(status="failed", summary="45/47", report_html="<h1>Проверка диалогов</h1>")

    change = admin_client.get(reverse("admin:evals_evalrun_change", args=[run.pk]))
    report = admin_client.get(reverse("admin:evals_evalrun_report", args=[run.pk]))

    assert "открыть отчёт" in change.content.decode()
    assert report.status_code == 200
    assert "Проверка диалогов" in report.content.decode()
    assert "default-src 'none'" in report["Content-Security-Policy"]


def conversation():
    contact = ContactFactory(phone="77017654321", name="Асель", is_client=True, request_type="sales")
    InboundMessageFactory(contact=contact, text="Сколько стоит кулер?")
    wrong = OutboundMessageFactory(contact=contact, text="Кулер стоит 50 000 ₸, скидка 30% только сегодня!")
    InboundMessageFactory(contact=contact, text="А помпа?")
    return contact, wrong


def test_marking_a_bot_message_wrong_drafts_a_card_that_loads(admin_client):
    _contact, wrong = conversation()

    response = admin_client.post(
        reverse("admin:messaging_message_changelist"),
        {"action": "mark_wrong", "_selected_action": [wrong.pk]},
        follow=True,
    )

    assert "Черновиков сценариев: 1" in response.content.decode()
    draft = CardDraft.objects.get()
    assert draft.message == wrong
    card = card_parse(text=draft.yaml, source="draft")
    assert card.turns[0].customer == ("Сколько стоит кулер?",)
    assert card.turns[0].model[0].text == wrong.text
    assert len(card.turns) == 1  # the conversation up to the wrong message
    assert card.expect.not_contains == (wrong.text[:80],)
    assert "7654321" not in draft.yaml
    assert "Асель" not in draft.yaml
    assert (
        "сохраните его в evals/cards/"
        in admin_client.get(reverse("admin:evals_carddraft_change", args=[draft.pk])).content.decode()
    )


def test_a_customer_message_cannot_be_marked_as_a_wrong_bot_answer(admin_client):
    contact, _wrong = conversation()
    customer = Message.objects.filter(contact=contact, direction="in").first()

    admin_client.post(
        reverse("admin:messaging_message_changelist"), {"action": "mark_wrong", "_selected_action": [customer.pk]}
    )

    assert not CardDraft.objects.exists()


def test_a_card_drafted_from_a_conversation_goes_when_the_contact_is_forgotten(admin_client):
    contact, wrong = conversation()
    admin_client.post(
        reverse("admin:messaging_message_changelist"), {"action": "mark_wrong", "_selected_action": [wrong.pk]}
    )
    assert CardDraft.objects.count() == 1

    contact_forget(contact=contact)

    assert not CardDraft.objects.exists()


def test_a_queued_run_executes_in_its_own_process_and_stores_the_report(monkeypatch, tmp_path):
    # The child process is a freshly configured server on this test's database (no key: the
    # scripted model); its conversations are rolled back, so it leaves nothing here.
    for name, value in server_env(tmp_path, LOG_LEVEL="WARNING").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    run = EvalRun.objects.create(cards="price-19l-ru")

    eval_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == "passed", run.error
    assert run.summary.startswith("1/1 сценариев без нарушений")
    assert run.report["cards"][0]["id"] == "price-19l-ru"
    assert "Сколько стоит вода 19 литров" in run.report_html
    assert run.finished_at is not None
    assert eval_run_execute(run_id=run.pk) is None  # a redelivered task finds it claimed
    assert not Message.objects.exists()
