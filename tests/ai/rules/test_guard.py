"""The number guard (ai.rules.guard): no price, amount, discount or percentage that the knowledge
base does not state. Pure functions; the guard on the assistant's replies is tested with the
assistant step (tests/assistant/test_pipeline.py)."""

from __future__ import annotations

import pytest

from ai.rules.guard import stated_figures, unsupported_figures

KNOWLEDGE = "Доставка по Алматы | рейс | 1 500 ₸\nАренда кулера | мес. | 2 500 тенге\nСкидка 10% от 10 бутылей."


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("Доставка — 1 500 ₸", {"1500"}),
        ("Доставка — 1\u00a0500 тг.", {"1500"}),
        ("стоит 1500 тенге", {"1500"}),
        ("Скидка 10 %", {"10%"}),
        ("скидка 30 процентов", {"30%"}),
        ("аренда 2,5 тыс. ₸", {"2500"}),
        ("Созвон в 10:00, 24.11", set()),
        ("Привезём 3 бутыли", set()),
        ("Наберите +7 701 234 56 78", set()),
    ],
)
def test_figures_are_read_as_people_write_money(text, figures):
    assert stated_figures(text) == figures


def test_a_made_up_discount_and_a_wrong_price_are_caught_and_the_real_price_passes():
    assert unsupported_figures("Для вас скидка 30%!", KNOWLEDGE) == ["30%"]
    assert unsupported_figures("Доставка стоит 1 700 ₸", KNOWLEDGE) == ["1700"]
    assert unsupported_figures("Доставка по Алматы — 1 500 ₸, скидка 10%", KNOWLEDGE) == []
