"""The price-list rows a customer's question names, stated as the list states them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ai.knowledge import price_rows
from ai.rules.price_answer import amount_words, price_line, rows_named
from tests.fixtures import DEMO_PRICE_TABLE

ROWS = price_rows(DEMO_PRICE_TABLE)


def named(text: str) -> list[str]:
    return [n.row.item for n in rows_named(text, ROWS)]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        pytest.param(
            "Сколько стоит бутыль 19 литров с доставкой по Алматы?",
            ["Вода 19 л (бутыль)", "Доставка по Алматы"],
            id="bottle-and-delivery",
        ),
        pytest.param("А кулер в аренду есть?", ["Кулер «Тау-2» напольный", "Аренда кулера «Тау-2»"], id="cooler-rent"),
        pytest.param("Сколько стоит вода 5 литров?", ["Вода 5 л (ПЭТ)"], id="another-size-is-not-named"),
        pytest.param("Цена помпы?", ["Помпа механическая", "Помпа электрическая «Samal»"], id="both-pumps"),
        pytest.param("Сколько стоит монтаж кондиционера?", [], id="not-on-the-list"),
    ],
)
def test_the_rows_the_customer_names(text, items):
    assert sorted(named(text)) == sorted(items)


def test_the_line_states_item_price_and_unit_as_the_list_does():
    line = price_line([n.row for n in rows_named("бутыль 19 л с доставкой по Алматы", ROWS)])

    assert line == "Вода 19 л (бутыль) — 1 200 ₸ за шт.; Доставка по Алматы — 1 500 ₸ за рейс."


def test_amounts_are_written_with_grouped_thousands_and_the_tenge_sign():
    assert amount_words(Decimal("69900")) == "69 900 ₸"
    assert amount_words(Decimal("2500.50")) == "2 500,50 ₸"
