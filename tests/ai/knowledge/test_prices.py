"""The knowledge base's price list (ai.knowledge.prices, pure) and its selector
(`knowledge_prices`, cached per state of the knowledge base)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from ai.knowledge import PriceRow, knowledge_prices, price_match, price_rows
from ai.models import KnowledgeChunk, KnowledgeDocument
from tests.fixtures import DEMO_PRICE_TABLE

# The demo company's price list as the PDF extraction gives it (knowledge_base/demo/pricing.pdf).
PRICE_LIST = f"""ТОО «Алтын Бұлақ», действует с 1 ноября 2026 года.

{DEMO_PRICE_TABLE}
Доставка по Алматы бесплатна при заказе от 3 бутылей 19 литров. Скидка 10% при заказе от 10 бутылей."""
PRICES = price_rows(PRICE_LIST)


def test_each_row_of_a_price_table_becomes_an_item_with_its_unit_and_price():
    assert len(PRICES) == 12
    assert PRICES[0] == PriceRow(item="Вода 19 л (бутыль)", unit="шт.", amount=Decimal("1200"))
    assert PriceRow(item="Аренда кулера «Тау-2»", unit="мес.", amount=Decimal("2500")) in PRICES
    assert PriceRow(item="Санитарная обработка кулера", unit="услуга", amount=Decimal("7000")) in PRICES


def test_a_header_names_the_columns_whatever_their_order_and_prose_prices_count_too():
    text = (
        "Цена | Товар\n1 200 | Вода 19 л\n\nКулер Aqua Pro — 25 000 ₸. Кулер Aqua Max — 180 000 ₸. Доставка бесплатно."
    )

    assert price_rows(text) == [
        PriceRow(item="Вода 19 л", unit="", amount=Decimal("1200")),
        PriceRow(item="Кулер Aqua Pro", unit="", amount=Decimal("25000")),
        PriceRow(item="Кулер Aqua Max", unit="", amount=Decimal("180000")),
    ]


def test_figures_that_are_not_a_fixed_price_are_no_price_rows():
    text = "Доставка | рейс | от 1 500 ₸\nМонтаж | услуга | 1 000–2 000 ₸\nГарантия | 12 мес.\nОфис: Абая, 150"

    assert price_rows(text) == []


@pytest.mark.parametrize(
    ("description", "amount"),
    [
        ("Вода 19 л (бутыль)", 1200),
        ("3 бутыли 19 л", 3600),
        ("3 бутыли воды 19 л", 3600),
        ("Вода 19 л × 3", 3600),
        ("Две бутыли воды 19 л", 2400),
        ("Вода 19 л, 19 бутылей", 22800),
        ("Кулер Тау-2", 69900),
        ("Напольный кулер Тау-2", 69900),
        ("2 кулера Тау-2", 139800),
        ("Кулер «Тау-2» напольный, 1 шт. по 69 900 ₸", 69900),
        ("Аренда кулера Тау-2", 2500),
        ("Помпа Samal", 5900),
        ("Помпа механическая", 2900),
        ("Вода 1,5 л, 2 упаковки", 3600),
        ("Вода 1,5 л (ПЭТ), упаковка 6 шт.", 1800),
        ("Доставка в Каскелен и Талгар", 3000),
        ("Вода 19 л, 2 шт; помпа механическая", 5300),
        ("Вода 19 л (бутыль) и помпа механическая", 4100),
        ("Кулер Тау-2 с доставкой по Алматы", 71400),
        ("Корпоративный абонемент", 22000),
    ],
)
def test_an_amount_is_the_listed_price_of_what_the_description_names(description, amount):
    assert price_match(description=description, amount=Decimal(amount), prices=PRICES).matched


@pytest.mark.parametrize(
    ("description", "amount", "list_amount"),
    [
        ("Кулер Тау-3", 3, None),  # no such model on the list
        ("Кулер «Тау-2» напольный", 3, 69900),
        ("Кулер Тау-2", 2500, 69900),  # the rent's price is not the cooler's
        ("Кулер Тау-2", 139800, 69900),  # twice the price, but no quantity stated
        ("Вода 5 л", 1200, 650),  # the 19 litre price for a 5 litre bottle
        ("Помпа механическая", 2000, 2900),
        ("Кулер Тау-2 (акция)", 3, None),  # a word the item does not have
        ("Подарочный сертификат", 5000, None),
    ],
)
def test_any_other_amount_or_an_unlisted_item_is_no_match(description, amount, list_amount):
    match = price_match(description=description, amount=Decimal(amount), prices=PRICES)

    assert not match.matched
    assert match.list_amount == (Decimal(list_amount) if list_amount else None)


def test_an_amount_below_the_list_price_says_so_and_names_the_row():
    match = price_match(description="Кулер Тау-2", amount=Decimal("3"), prices=PRICES)

    assert match.below_list
    [(row, quantity)] = match.lines
    assert (row.item, row.amount, quantity) == ("Кулер «Тау-2» напольный", Decimal("69900"), 1)


# --- The selector ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_knowledge")
def test_the_demo_knowledge_base_gives_its_price_list():
    prices = knowledge_prices()

    assert PriceRow(item="Вода 19 л (бутыль)", unit="шт.", amount=Decimal("1200")) in prices
    assert PriceRow(item="Кулер «Тау-2» напольный", unit="шт.", amount=Decimal("69900")) in prices
    assert len(prices) == 12


@pytest.mark.django_db
def test_a_table_split_between_chunks_keeps_its_header_and_a_new_document_is_read_at_once():
    document = KnowledgeDocument.objects.create(
        path="prices.pdf", title="Прайс", status=KnowledgeDocument.Status.INDEXED, indexed_at=timezone.now()
    )
    KnowledgeChunk.objects.create(document=document, position=0, heading="Прайс", text="Цена | Товар\n1 200 | Вода")
    KnowledgeChunk.objects.create(document=document, position=1, heading="Прайс", text="650 | Вода 5 л")
    assert [row.amount for row in knowledge_prices()] == [Decimal("1200"), Decimal("650")]

    other = KnowledgeDocument.objects.create(
        path="promo.pdf", title="Акция", status=KnowledgeDocument.Status.INDEXED, indexed_at=timezone.now()
    )
    KnowledgeChunk.objects.create(document=other, position=0, heading="", text="Помпа — 2 900 ₸.")

    assert PriceRow(item="Помпа", unit="", amount=Decimal("2900")) in knowledge_prices()
