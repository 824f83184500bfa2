"""Opt-out: a message that IS an opt-out word or phrase, not one that mentions one.

Pure functions. "Стоп", "Не пишите мне больше!", "unsubscribe please" opt out; "не пишите
больше в субботу, я занят" does not (it says something else too).
"""

from __future__ import annotations

import re

from ai.rules.language import RUSSIAN
from ai.rules.texts import fixed_text

# Phrases that on their own mean "stop writing to me".
_PHRASES = (
    # Russian
    "стоп", "отписка", "отписаться", "отпишите", "отпишите меня", "отписать", "не пишите", "не пишите мне",
    "больше не пишите", "не пишите больше", "хватит писать", "хватит мне писать", "не беспокойте",
    "не беспокойте меня", "спам",
    # Kazakh
    "жазбаңыз", "маған жазбаңыз", "енді жазбаңыз", "тоқтат", "тоқтатыңыз", "хабарлама жібермеңіз",
    "жазбаңдар", "жазбаныз", "мазаламаңыз", "мазаламаныз", "хабарласпаңыз", "жазылымнан шығу",
    # English ("don't" splits into "don" + "t")
    "stop", "unsubscribe", "stop messaging", "stop messaging me", "stop texting", "stop texting me",
    "don t message me", "do not message me", "don t text me", "do not text me", "opt out",
)  # fmt: skip
# Words that may surround the phrase without changing its meaning.
_FILLER = {
    "пожалуйста", "пж", "плз", "мне", "меня", "больше", "сюда", "спасибо", "всё", "все", "уже", "please",
    "me", "thanks", "ok", "ок", "нет", "маған", "енді", "рахмет", "өтінемін", "өтінем",
    "бізге", "қайта", "басқа", "бұдан", "былай", "ешқашан", "any", "more",
}  # fmt: skip
_TOKENS = re.compile(r"[a-zа-яёәіңғүұқөһ]+", re.IGNORECASE)
_PHRASE_TOKENS = sorted((tuple(_TOKENS.findall(p)) for p in _PHRASES), key=len, reverse=True)

# The Russian confirmation; every language's version is ai.rules.texts' "opt_out_confirmation".
CONFIRMATION = fixed_text("opt_out_confirmation", RUSSIAN)


def is_opt_out(text: str) -> bool:
    """True when the whole message is an opt-out (phrase plus at most filler words)."""
    tokens = _TOKENS.findall((text or "").lower())
    if not tokens or len(tokens) > 10:
        return False
    found = False
    changed = True
    while changed:  # "Стоп. Не пишите мне больше!" holds two phrases: take them all out
        changed = False
        for phrase in _PHRASE_TOKENS:
            for start in range(len(tokens) - len(phrase) + 1):
                if tuple(tokens[start : start + len(phrase)]) == phrase:
                    tokens = tokens[:start] + tokens[start + len(phrase) :]
                    found = changed = True
                    break
            if changed:
                break
    return found and all(word in _FILLER for word in tokens)
