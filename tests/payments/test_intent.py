from __future__ import annotations

import pytest

from payments.intent import says_paid


@pytest.mark.parametrize(
    "text",
    ["оплатил", "Я оплатила счёт", "Оплатили, проверьте", "төледім", "Paid", "перевел", "всё, оплачено 👍"],
)
def test_it_hears_a_payment_claim(text):
    assert says_paid(text)


@pytest.mark.parametrize(
    "text", ["как оплатить?", "оплачу завтра", "ещё не оплатил", "не оплатил пока", "можно оплатить Kaspi?", ""]
)
def test_it_does_not_hear_one_where_there_is_none(text):
    assert not says_paid(text)
