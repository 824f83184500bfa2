"""The scenario cards: the shipped set covers the issue's situations in both languages, and a
card that breaks the schema is refused with its file and the place that is wrong."""

from __future__ import annotations

import pytest

from evals.cards import CATEGORIES, CardError, card_parse, cards_load

GOOD = """
id: sample
title: Пример
category: price
language: ru
persona: Клиент
goal: Узнать цену
turns:
  - customer: "Сколько стоит?"
    model:
      - text: "1 200 ₸"
expect:
  replies: 1
"""


def test_the_shipped_cards_cover_every_category_in_russian_and_kazakh():
    cards = cards_load()

    assert len(cards) >= 40
    assert {card.category for card in cards} == set(CATEGORIES)
    assert {card.language for card in cards} >= {"ru", "kk"}
    assert sum(card.language == "kk" for card in cards) >= 12


def test_a_card_reads_its_turns_steps_and_checks():
    card = card_parse(text=GOOD, source="sample.yaml")

    assert card.turns[0].customer == ("Сколько стоит?",)
    assert card.turns[0].model[0].text == "1 200 ₸"
    assert card.expect.replies == 1
    assert not card.expect.checks_client


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("category: price", "category: prices"), "sample.yaml: category: 'prices' is not one of price"),
        (("  replies: 1", "  replys: 1"), "sample.yaml: expect: unknown key 'replys'"),
        (('      - text: "1 200 ₸"', "      - text: x\n        call: book_call"), "turns[0].model[0]: a scripted"),
        (("    model:", "    voice: true\n    model:"), "turns[0]: a voice turn needs the transcript"),
        (("goal: Узнать цену\n", ""), "sample.yaml: card: missing key 'goal'"),
        (("id: sample", "id: два слова"), "sample.yaml: id: use letters, digits"),
        (("turns:", "turns: ["), "sample.yaml: not valid YAML"),
    ],
)
def test_a_card_that_breaks_the_schema_is_refused_with_the_place(change, message):
    with pytest.raises(CardError, match=message.replace("[", r"\[").replace("]", r"\]")):
        card_parse(text=GOOD.replace(*change), source="sample.yaml")


def test_two_cards_with_one_id_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")

    with pytest.raises(CardError, match="id 'sample' is used by"):
        cards_load(folder=tmp_path)


def test_asking_for_an_unknown_card_says_which(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")

    with pytest.raises(CardError, match="no card or category named nope"):
        cards_load(folder=tmp_path, only=["nope"])
    assert [c.id for c in cards_load(folder=tmp_path, only=["price"])] == ["sample"]
