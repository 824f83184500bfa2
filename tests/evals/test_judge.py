"""The judge against the labelled transcripts shipped in the repo, through the scripted Gemini's
judge answers: agreement per item, and the items it judges poorly are named."""

from __future__ import annotations

import json

import pytest

from evals import fakes
from evals.cards import RUBRIC
from evals.judge import judge_transcript, judge_validate, labelled_set
from evals.runner import Options, environment


@pytest.fixture
def scripted():
    with environment(Options()) as env:
        yield env.gemini


def test_the_labelled_set_covers_every_rubric_item_in_both_languages():
    entries = labelled_set()
    labelled = {item for entry in entries for item in entry["labels"]}

    assert labelled == set(RUBRIC)
    assert any(entry["id"].startswith("kk-") for entry in entries)


def test_the_judge_agreement_is_counted_per_item_and_a_poorly_judged_item_is_reported(scripted):
    # The scripted judge agrees with the people everywhere except on «natural_kazakh», which it
    # always passes: it is then wrong on every transcript a person marked as unnatural.
    for entry in labelled_set():
        judgements = [
            {"item": item, "passed": True if item == "natural_kazakh" else label, "reason": "по разметке"}
            for item, label in entry["labels"].items()
        ]
        scripted.push(fakes.JUDGE, fakes.text_body(json.dumps({"judgements": judgements}, ensure_ascii=False)))

    validation = judge_validate()

    assert validation.weak_items == ["natural_kazakh"]
    kazakh = validation.items["natural_kazakh"]
    assert (kazakh.agreed, kazakh.total) == (2, 4)
    assert validation.items["formal_you"].rate == 1.0
    assert 0.8 < validation.agreement < 1.0
    assert validation.as_dict()["weak_items"] == ["natural_kazakh"]


def test_an_item_the_judge_leaves_out_counts_as_failed(scripted):
    answer = {"judgements": [{"item": "short", "passed": True, "reason": "коротко"}]}
    scripted.push(fakes.JUDGE, fakes.text_body(json.dumps(answer, ensure_ascii=False)))

    verdicts = judge_transcript(
        lines=[{"who": "customer", "text": "Цена?"}, {"who": "assistant", "text": "1 200 ₸"}],
        items=["short", "formal_you"],
    )

    assert [(v.item, v.passed) for v in verdicts] == [("short", True), ("formal_you", False)]
    assert verdicts[1].reason == "судья не оценил этот пункт"
    [(_kind, _model, request)] = scripted.requests
    asked = json.dumps(request, ensure_ascii=False)
    assert "А: 1 200 ₸" in asked
    assert RUBRIC["formal_you"] in asked
