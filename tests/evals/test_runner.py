"""Cards run through the real pipeline (ingest, the AI step, tools, the number guard, the
outbox and the sender) against the scripted Gemini; the hard checks name what the product
broke; each conversation leaves nothing behind."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from assistant.tools import TOOL_CALLS_TALLY
from contacts.models import Contact
from evals import fakes
from evals.cards import card_parse, cards_load
from evals.runner import CardResult, Options, Trial, environment, trial_run
from messaging.models import Message
from messaging.suspicious import SUSPICIOUS_TALLY
from payments.models import Payment
from project.lib.tallies import tally_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripted(demo_knowledge):
    with environment(Options(preloaded=("demo",))) as env:
        yield env


def card(text: str):
    return card_parse(text=text, source="test-card.yaml")


def failed(trial: Trial) -> dict[str, str]:
    return {check.name: check.detail for check in trial.checks if not check.ok}


def test_a_price_card_runs_through_the_pipeline_and_leaves_nothing_behind(scripted):
    [price] = cards_load(only=["price-19l-ru"])

    trial = trial_run(card=price, env=scripted)

    assert trial.hard_ok, failed(trial) or trial.error
    assert [line["who"] for line in trial.lines] == ["customer", "assistant"]
    assert trial.lines[1]["text"].startswith("Здравствуйте! Бутыль 19 л — 1 200 ₸")
    assert trial.lines[1]["status"] == "sent"  # through the sender to the local Wappi stand-in
    assert [kind for kind, _model, _body in scripted.gemini.requests] == ["verdict", "reply"]
    assert not Contact.objects.filter(phone__startswith="7700999").exists()
    assert not Message.objects.exists()


def test_an_invoice_card_checks_the_list_amount_of_the_invoice_the_tool_opened(scripted):
    [invoice] = cards_load(only=["payment-invoice-ru"])

    trial = trial_run(card=invoice, env=scripted)

    assert trial.hard_ok, failed(trial) or trial.error
    # Kaspi (the stand-in) took the invoice, and the customer got the product's invoice notice.
    assert "payment" in [line["purpose"] for line in trial.lines]
    names = [check.name for check in trial.checks]
    assert {"invoice", "invoice_amount", "no_invented_figure"} <= set(names)
    assert not Payment.objects.exists()


def test_a_reply_the_product_gives_differently_fails_the_named_check(scripted):
    wrong = card(
        """
id: evening
title: Звонок в 20:00
category: booking
language: ru
persona: Клиент
goal: Звонок вечером
contact: {is_client: true, request_type: sales}
turns:
  - customer: "Позвоните в 20:00"
    model:
      - call: book_call
        args: {start: "{next_workday}T20:00", topic: "заказ"}
      - text: "Записал вас на 20:00"
expect:
  call_booked: true
  replies: 2
"""
    )

    trial = trial_run(card=wrong, env=scripted)

    assert not trial.hard_ok
    assert failed(trial) == {"call_booked": "expected True, got False", "replies": "expected 2, got 1"}
    tool_result = json.dumps(scripted.gemini.requests[-1][2], ensure_ascii=False)
    assert "alternatives" in tool_result  # the booking tool refused the evening slot


def test_a_card_whose_script_runs_out_fails_on_the_script_check(scripted):
    short = card(
        """
id: short
title: Без ответа модели
category: price
language: ru
persona: Клиент
goal: Цена
contact: {is_client: true, request_type: sales}
turns:
  - customer: "Сколько стоит кулер?"
expect: {}
"""
    )

    trial = trial_run(card=short, env=scripted)

    assert failed(trial)["script"] == "the pipeline asked for an unscripted reply answer"


def test_the_number_guard_keeps_an_invented_discount_from_the_customer(scripted):
    [invented] = cards_load(only=["discount-invented-ru"])

    trial = trial_run(card=invented, env=scripted)

    assert trial.hard_ok, failed(trial)
    [reply] = [line["text"] for line in trial.lines if line["who"] == "assistant"]
    assert "15%" not in reply
    assert "12%" not in reply
    assert sum(kind == fakes.REPLY for kind, *_ in scripted.gemini.requests) == 2  # the draft and its correction


def test_the_simulated_customer_plays_until_the_goal_and_the_judge_scores_the_rubric(demo_knowledge):
    simulated = card(
        """
id: simulated
title: Симуляция
category: price
language: ru
persona: Асель, офис-менеджер, пишет коротко
goal: Узнать цену воды и доставки
contact: {is_client: true, request_type: sales}
turns:
  - customer: "Сколько стоит вода 19 л?"
    model:
      - text: "Вода 19 л — 1 200 ₸. Сколько бутылей нужно?"
expect:
  replies: 2
rubric: [short, formal_you]
"""
    )
    with environment(Options(preloaded=("demo",), simulate=True, judge=True)) as env:
        gemini = env.gemini
        # The model's answer to the simulated customer's question, after the card's own.
        gemini.script.defaults[fakes.REPLY] = fakes.text_body("Доставка по Алматы — 1 500 ₸, от 3 бутылей бесплатно.")
        gemini.push(fakes.PERSONA, fakes.text_body(json.dumps({"message": "А доставка?", "goal_reached": False})))
        gemini.push(fakes.PERSONA, fakes.text_body(json.dumps({"message": "", "goal_reached": True})))
        judgements = [
            {"item": "short", "passed": True, "reason": "коротко"},
            {"item": "formal_you", "passed": False, "reason": "обращается на «ты»"},
        ]
        gemini.push(fakes.JUDGE, fakes.text_body(json.dumps({"judgements": judgements}, ensure_ascii=False)))

        trial = trial_run(card=simulated, env=env)

    assert trial.hard_ok, failed(trial) or trial.error
    said = [(line["who"], line["text"][:20]) for line in trial.lines]
    assert said == [
        ("customer", "Сколько стоит вода 1"),
        ("assistant", "Вода 19 л — 1 200 ₸."),
        ("customer", "А доставка?"),
        ("assistant", "Доставка по Алматы —"),
    ]
    persona_requests = [body for kind, _model, body in gemini.requests if kind == fakes.PERSONA]
    assert len(persona_requests) == 2
    assert "Асель, офис-менеджер" in json.dumps(persona_requests[0], ensure_ascii=False)
    assert [(v.item, v.passed) for v in trial.verdicts] == [("short", True), ("formal_you", False)]
    assert not trial.ok  # the rubric failed


def test_pass_one_is_the_share_of_passing_trials_and_pass_k_needs_every_trial():
    [any_card] = cards_load(only=["price-19l-ru"])
    good, bad = Trial(), Trial(error="broke")

    result = CardResult(card=any_card, trials=[good, bad, good, good])

    assert result.pass1 == 0.75
    assert result.passk is False
    assert CardResult(card=any_card, trials=[good, good]).passk is True


def test_a_run_leaves_the_live_caches_counters_and_suspicious_flags_untouched(demo_knowledge, settings):
    # Run from the admin (`eval --in-place`) on the live site: the conversation's rows are rolled
    # back, and the cache it counted in (/metrics tallies, suspicious flags, send caps) is its own.
    settings.SUSPICIOUS_LONG_MESSAGE_CHARS = 10  # the card's first message is "very long"
    [invoice] = cards_load(only=["payment-invoice-ru"])
    counters = (SUSPICIOUS_TALLY, TOOL_CALLS_TALLY)
    before = {name: tally_counts(name) for name in counters}
    seen_before = cache.get("suspicious:seen:long_message")

    with environment(Options(preloaded=("demo",))) as env:
        trial = trial_run(card=invoice, env=env)
        during = {name: tally_counts(name) for name in counters}

    assert trial.error == "", trial.error
    assert during != before  # the run did count its tool call and the long message, in its own cache
    assert {name: tally_counts(name) for name in counters} == before
    assert cache.get("suspicious:seen:long_message") == seen_before
