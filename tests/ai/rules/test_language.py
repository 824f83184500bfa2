"""Kazakh and Russian (ai.rules.language, ai.rules.texts): which language a customer writes in,
which one the assistant answers in, and that every fixed text a customer may read exists in
both. Pure functions, no database."""

from __future__ import annotations

import string

import pytest

from ai.rules.intent import intent_rules
from ai.rules.language import KAZAKH, RUSSIAN, conversation_language, message_language
from ai.rules.optout import is_opt_out
from ai.rules.texts import TEXTS, fixed_text, weekday_name


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Сәлеметсіз бе! Бағасы қанша?", KAZAKH),
        ("Иә", KAZAKH),
        ("жоқ", KAZAKH),
        ("Қызық емес", KAZAKH),
        ("Кейін жазамын", KAZAKH),
        # Typed on a Russian keyboard, without Kazakh letters.
        ("Салем, канша турады? Рахмет", KAZAKH),
        ("Жеткизу бар ма?", KAZAKH),
        ("Здравствуйте, сколько стоит доставка в Астану?", RUSSIAN),
        ("да", RUSSIAN),
        ("Нет, спасибо", RUSSIAN),
        # Mixed: more Russian than Kazakh words.
        ("Сәлем, сколько стоит доставка в Астану?", RUSSIAN),
    ],
)
def test_the_language_of_a_message_is_told_by_its_letters_and_words(text, language):
    assert message_language(text) == language


@pytest.mark.parametrize("text", ["👍", "ok", "25000", "", "Астана"])
def test_a_message_without_a_clue_says_no_language(text):
    assert message_language(text) is None


def test_the_newest_message_that_shows_a_language_decides_and_russian_is_the_default():
    assert conversation_language(["👍", "Рахмет, бағасы қанша?", "Здравствуйте"]) == KAZAKH
    assert conversation_language(["Сколько стоит?", "Сәлеметсіз бе"]) == RUSSIAN
    assert conversation_language(["👍", "500"]) == RUSSIAN
    assert conversation_language([]) == RUSSIAN


def test_a_language_not_in_reply_languages_is_answered_in_russian():
    assert conversation_language(["Сәлеметсіз бе! Бағасы қанша?"], allowed=["ru"]) == RUSSIAN
    assert conversation_language(["Сәлеметсіз бе! Бағасы қанша?"], allowed=["ru", "kk"]) == KAZAKH


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Иә", "yes"),
        ("иә, аламын", "yes"),
        ("Жарайды", "yes"),
        ("Жоқ", "no"),
        ("жок, рахмет", "no"),
        ("Қызық емес", "no"),
        ("Керек емес", "no"),
        ("Кейін жазамын", "uncertain"),
        ("Ойланамын", "uncertain"),
        ("Білмеймін әлі", "uncertain"),
        ("Иә, жеткізу бар ма?", "other"),
    ],
)
def test_kazakh_answers_are_understood_by_the_intent_rules(text, intent):
    assert intent_rules(text) == intent


@pytest.mark.parametrize(
    ("text", "opted_out"),
    [
        ("Маған енді жазбаңыз", True),
        ("Жазбаңыз, өтінемін", True),
        ("Мазаламаңыз!", True),
        ("Хабарласпаңыз", True),
        ("Жазбаңыз сенбі күні, жұмыстамын", False),
    ],
)
def test_kazakh_opt_outs_are_understood(text, opted_out):
    assert is_opt_out(text) is opted_out


def test_every_fixed_text_exists_in_russian_and_kazakh_with_the_same_placeholders():
    for key, versions in TEXTS.items():
        assert set(versions) == {RUSSIAN, KAZAKH}, key
        ru, kk = versions[RUSSIAN], versions[KAZAKH]
        assert ru != kk, key
        assert sorted(_placeholders(ru)) == sorted(_placeholders(kk)), key


def test_a_fixed_text_is_looked_up_by_language_with_russian_for_any_other():
    assert fixed_text("fallback", KAZAKH) == "Хабарламаңызға рахмет! Менеджер жақын арада жауап береді."
    assert fixed_text("fallback", "en") == fixed_text("fallback", RUSSIAN)
    booked = fixed_text("call_booked", KAZAKH, when="жұма, 20.11, 15:00", phone="+7 701 123 45 67")
    assert "жұма, 20.11, 15:00" in booked
    assert "+7 701 123 45 67" in booked
    assert weekday_name(4, KAZAKH) == "жұма"
    assert weekday_name(4, RUSSIAN) == "пятница"


def _placeholders(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]
