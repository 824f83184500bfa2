"""Opt-out: a message that IS an opt-out word or phrase, not one that mentions one.

Pure functions. "Стоп", "Не пишите мне больше!", "unsubscribe please" opt out; "не пишите
больше в субботу, я занят" does not (it says something else too). A refusal may stand in front
("Нет, не пишите", "Жоқ, жазбаңыз", "Қызық емес, жазбаңыз"), and the Kazakh polite form
("жазбаңызшы", "мазаламаңызшы") counts as the phrase itself.
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
    "бізге", "қайта", "басқа", "бұдан", "былай", "ешқашан", "any", "more", "жоқ", "жок", "no",
}  # fmt: skip
# Refusals of more than one word that may stand in front of the phrase: "Қызық емес, жазбаңыз" is
# "Не интересно, не пишите". Only together: a bare "емес" (not) or "не" changes the meaning.
_FILLER_PHRASES = (
    "қызық емес", "қызықты емес", "кызык емес", "керек емес", "қажет емес", "кажет емес",
    "не интересно", "неинтересно", "не надо", "не нужно", "not interested",
)  # fmt: skip
_TOKENS = re.compile(r"[a-zа-яёәіңғүұқөһ]+", re.IGNORECASE)
_PHRASE_TOKENS = sorted((tuple(_TOKENS.findall(p)) for p in _PHRASES), key=len, reverse=True)
_FILLER_PHRASE_TOKENS = sorted((tuple(_TOKENS.findall(p)) for p in _FILLER_PHRASES), key=len, reverse=True)
_PHRASE_WORDS = {word for phrase in _PHRASE_TOKENS for word in phrase}
# Kazakh polite particle written onto the verb: "жазбаңызшы" is "жазбаңыз" said softly.
_POLITE_SUFFIXES = ("шы", "ші")

# The Russian confirmation; every language's version is ai.rules.texts' "opt_out_confirmation".
CONFIRMATION = fixed_text("opt_out_confirmation", RUSSIAN)


def is_opt_out(text: str) -> bool:
    """True when the whole message is an opt-out (phrase plus at most filler words)."""
    tokens = [_without_polite_suffix(word) for word in _TOKENS.findall((text or "").lower())]
    if not tokens or len(tokens) > 10:
        return False
    # "Стоп. Не пишите мне больше!" holds two phrases: take them all out
    tokens, found = _remove_all(tokens, _PHRASE_TOKENS)
    tokens, _ = _remove_all(tokens, _FILLER_PHRASE_TOKENS)
    return found and all(word in _FILLER for word in tokens)


def _without_polite_suffix(word: str) -> str:
    for suffix in _POLITE_SUFFIXES:
        if word.endswith(suffix) and word[: -len(suffix)] in _PHRASE_WORDS:
            return word[: -len(suffix)]
    return word


def _remove_all(tokens: list[str], phrases: list[tuple[str, ...]]) -> tuple[list[str], bool]:
    """Tokens without every occurrence of the phrases (longest first), and whether any was there."""
    found = False
    changed = True
    while changed:
        changed = False
        for phrase in phrases:
            for start in range(len(tokens) - len(phrase) + 1):
                if tuple(tokens[start : start + len(phrase)]) == phrase:
                    tokens = tokens[:start] + tokens[start + len(phrase) :]
                    found = changed = True
                    break
            if changed:
                break
    return tokens, found
