"""`manage.py eval` (what `make eval` runs): the table, the HTML and JSON report, and the exit
status that closes the release gate when a hard check fails."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

PASSING = """
id: price
title: Цена бутыли
category: price
language: ru
persona: Клиент
goal: Цена
contact: {is_client: true, request_type: sales}
turns:
  - customer: "Сколько стоит вода 19 л?"
    model:
      - text: "Вода 19 л — 1 200 ₸. Сколько бутылей нужно?"
expect:
  replies: 1
"""
# The model invents a price twice: the number guard sends the safe line, and the card that
# expects the invented price to reach the customer fails.
FAILING = """
id: invented
title: Выдуманная цена
category: price
language: ru
persona: Клиент
goal: Цена
contact: {is_client: true, request_type: sales}
turns:
  - customer: "Сколько стоит фильтр?"
    model:
      - text: "Фильтр — 4 500 ₸"
      - text: "Фильтр — 4 400 ₸"
expect:
  contains: ["4 500 ₸"]
"""


def run(folder, out):
    stdout = StringIO()
    call_command("eval", "--in-place", "--cards-dir", str(folder), "--out", str(out), stdout=stdout)
    return stdout.getvalue()


def test_a_suite_that_passes_opens_the_gate_and_writes_the_report(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "price.yaml").write_text(PASSING, encoding="utf-8")

    printed = run(cards, tmp_path / "out")

    assert "RELEASE GATE: PASSED" in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert (report["cards_total"], report["cards_hard_ok"], report["mode"]) == (1, 1, "scripted")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Вода 19 л — 1 200 ₸" in html  # the conversation is in the report
    assert "Цены и прайс" in html  # the table per category


def test_a_hard_check_failure_closes_the_gate_and_the_report_says_why(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "price.yaml").write_text(PASSING, encoding="utf-8")
    (cards / "invented.yaml").write_text(FAILING, encoding="utf-8")

    with pytest.raises(CommandError, match="release gate is closed"):
        run(cards, tmp_path / "out")

    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    [invented] = [card for card in report["cards"] if card["id"] == "invented"]
    assert invented["failures"] == ["says «4 500 ₸»: never said"]
    said = [line["text"] for line in invented["trials"][0]["conversation"] if line["who"] == "assistant"]
    assert said == ["Точные цены и условия для вас подтвердит менеджер 😊 Передать ему ваш вопрос?"]


def test_a_bad_card_stops_the_run_with_the_file_and_the_place(tmp_path):
    (tmp_path / "bad.yaml").write_text(PASSING.replace("category: price", "category: nope"), encoding="utf-8")

    with pytest.raises(CommandError, match=r"bad card: .*bad.yaml: category: 'nope' is not one of"):
        run(tmp_path, tmp_path / "out")
