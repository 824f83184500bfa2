"""Opt-out matching (ai.rules.optout): the whole message asks us to stop, in Russian, Kazakh or
English; a word inside another sentence does not. Pure functions, no database."""

from __future__ import annotations

import pytest

from ai.rules.optout import is_opt_out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("стоп", True),
        ("СТОП!!!", True),
        ("Stop", True),
        ("отписка", True),
        ("Отписаться", True),
        ("не пишите мне больше, пожалуйста", True),
        ("unsubscribe", True),
        ("не пишите больше в субботу, я занят", False),
        ("стоп, а сколько стоит доставка?", False),
        ("Остановка у вас где?", False),
        ("", False),
        ("Стоп-кран продаёте?", False),
    ],
)
def test_opt_out_is_the_whole_message_not_a_word_inside_another_sentence(text, expected):
    assert is_opt_out(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Маған жазбаңыз", True),
        ("Тоқтат", True),
        ("Stop texting me", True),
        ("Don't message me", True),
        ("Хватит, спасибо", False),
        ("ок хватит", False),
        ("хватит писать", True),
        ("Маған бұдан былай жазбаңыз, стоп", True),  # "from now on": the usual Kazakh way to say it
        ("Енді ешқашан жазбаңыз", True),
        ("Бұдан былай сенбіде жазбаңыз", False),  # says something else too
    ],
)
def test_opt_out_understands_kazakh_and_english_and_is_not_triggered_by_a_bare_enough(text, expected):
    assert is_opt_out(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "Жоқ" is Kazakh "нет": a refusal in front of the opt-out, like "Нет, не пишите"
        ("Нет, не пишите", True),
        ("Жоқ, жазбаңыз", True),
        ("Жок, жазбаңыз", True),
        # "not interesting, don't write" in both languages
        ("Қызық емес, жазбаңыз", True),
        ("Маған қызық емес, маған жазбаңыз", True),
        ("Не интересно, не пишите", True),
        # the polite "-шы/-ші" form
        ("Жазбаңызшы", True),
        ("Мазаламаңызшы", True),
        ("Маған енді жазбаңызшы, рахмет", True),
        ("Тоқтатыңызшы", True),
        # says something else too
        ("Жоқ, сенбіде жазбаңыз", False),
        ("Қызық емес, бағасы қымбат", False),
        ("Жазбаңызшы ертең, қазір бос емеспін", False),
        ("Жоқ", False),
        ("Қызық емес", False),
        ("Шы", False),
    ],
)
def test_kazakh_refusal_words_and_polite_forms_around_an_opt_out(text, expected):
    assert is_opt_out(text) is expected
