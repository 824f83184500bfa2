"""The offline intent rules (ai.rules.intent): how a client's short chat answer reads (yes / no /
uncertain / other) when the model is not asked. Pure functions, no database."""

from __future__ import annotations

import pytest

from ai.rules.intent import intent_rules


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Да", "yes"),
        ("да, давайте 👍", "yes"),
        ("Согласен", "yes"),
        ("Готов!", "yes"),
        ("Окей, записывайте", "yes"),
        ("Нет", "no"),
        ("нет, спасибо", "no"),
        ("Не интересно", "no"),
        ("Не надо больше", "no"),
        ("Посмотрю", "uncertain"),
        ("Я подумаю", "uncertain"),
        ("Может быть", "uncertain"),
        ("не знаю пока", "uncertain"),
        ("Напишу позже", "uncertain"),
        ("Да, а сколько стоит доставка?", "other"),
        ("Какие у вас цены на кулеры?", "other"),
        ("Здравствуйте", "other"),
        ("", "other"),
    ],
)
def test_offline_rules_read_chat_answers(text, intent):
    assert intent_rules(text) == intent
