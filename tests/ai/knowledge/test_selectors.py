"""Retrieval under abuse: a huge customer message (65,000 characters of near-miss words) costs a
bounded amount of typo correction, and ordinary questions are answered as before."""

from __future__ import annotations

import random

import pytest

from ai.knowledge import knowledge_search
from ai.knowledge.selectors import (
    TYPO_MAX_WORD_CHARS,
    TYPO_MAX_WORDS,
    knowledge_vocabulary,
    with_typo_corrections,
)

pytestmark = pytest.mark.django_db

CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"


def near_miss_message(vocabulary: frozenset[str], *, chars: int, seed: int = 7) -> str:
    """Words of the knowledge base with one letter changed (each one a typo the corrector would
    fix), up to `chars` characters."""
    rng = random.Random(seed)
    known = sorted(w for w in vocabulary if len(w) >= 6 and w.isalpha())
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(known)
        i = rng.randrange(1, len(word) - 1)
        typo = word[:i] + rng.choice(CYRILLIC) + word[i + 1 :]
        if typo in vocabulary:
            continue
        words.append(typo)
        size += len(typo) + 1
    return " ".join(words)[:chars]


def appended(query: str) -> list[str]:
    corrected = with_typo_corrections(query)
    assert corrected.startswith(query)
    return corrected[len(query) :].split()


def test_a_65k_character_message_gets_at_most_the_bounded_number_of_corrections(demo_knowledge):
    message = near_miss_message(knowledge_vocabulary(), chars=65_000)
    assert len(message) == 65_000
    # The first few words alone are each corrected: the corrector does work on this text ...
    assert len(appended(" ".join(message.split()[:5]))) >= 3

    # ... and on the whole message it stops after TYPO_MAX_WORDS unknown words.
    assert 0 < len(appended(message)) <= TYPO_MAX_WORDS
    assert isinstance(knowledge_search(query=message, limit=3), list)


def test_an_overlong_word_is_not_compared_with_the_vocabulary(demo_knowledge):
    word = "доставка" * (TYPO_MAX_WORD_CHARS // 8 + 1)
    assert with_typo_corrections(word) == word


def test_ordinary_questions_are_corrected_as_before(demo_knowledge):
    assert with_typo_corrections("кулир") == "кулир кулер"
    assert with_typo_corrections("доставка по Алматы") == "доставка по Алматы"
    [hit, *_] = knowledge_search(query="сколько стоит доствка по Алматы?", limit=3)
    assert "Доставка по Алматы" in hit.text


def test_a_long_message_of_distinct_words_is_searched_without_error(demo_knowledge):
    rng = random.Random(11)
    words = {"".join(rng.choice(CYRILLIC) for _ in range(rng.randint(3, 7))) for _ in range(3000)}
    message = " ".join(sorted(words)) + " сколько стоит доставка по Алматы?"

    hits = knowledge_search(query=message, limit=3)

    assert isinstance(hits, list)
