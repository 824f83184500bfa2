"""Which price-list rows a customer's question names, and the short sentence that states them.

Pure: the rows (anything with `item`, `unit` and `amount`, e.g. ai.knowledge.PriceRow) and the
text in, values out. A row is named when the customer uses its head word (the item's first word
or a word in its brackets: "бутыль" of "Вода 19 л (бутыль)") and no other size than its own;
among rows of one head word only the best-named stay ("доставка по Алматы" keeps "Доставка по
Алматы", not "Доставка в Каскелен"). Word endings are forgiven ("бутыли", "кулера", "аренду").
The amounts are written as the price list writes them ("1 200 ₸"), so the number guard finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

__all__ = ["Named", "PriceLike", "amount_words", "price_line", "rows_named"]

MAX_ROWS = 3
# A row this far below the best of its head word is a neighbour, not the one asked about.
FAMILY_MARGIN = 0.2
MIN_SCORE = 0.5
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+")
_FILLER = frozenset(
    "шт штук уп упак упаковка ед мес рейс услуга по за для на из при от и с со в во к без или а также "
    "по кг мл литр литра литров".split()
)
_MEASURES = frozenset("л литр литра литров мл кг г".split())


class PriceLike(Protocol):
    item: str
    unit: str
    amount: Decimal


@dataclass(frozen=True)
class Named:
    row: PriceLike
    score: float


def _norm(text: str) -> str:
    return (text or "").lower().replace("ё", "е").translate(str.maketrans("", "", "«»\"“”„'`"))


def _same(a: str, b: str) -> bool:
    """One word in two endings: "бутыли"/"бутыль", "доставкой"/"доставка", "аренду"/"аренда"."""
    if a == b:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= max(3, min(len(a), len(b)) - 2)


def _words(text: str) -> tuple[list[str], set[str]]:
    """The item's meaningful words and its sizes ("19" of "19 л")."""
    tokens = _TOKEN.findall(_norm(text))
    words, sizes = [], set()
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following in _MEASURES or following.startswith("литр"):
                sizes.add(token.replace(",", "."))
        elif len(token) >= 3 and token not in _FILLER:
            words.append(token)
    return words, sizes


def _head(item: str) -> list[str]:
    words, _sizes = _words(item)
    bracketed = " ".join(re.findall(r"\(([^)]*)\)", _norm(item)))
    head = words[:1] + [w for w in _words(bracketed)[0] if w not in words[:1]]
    return head


def rows_named(text: str, rows: Iterable[PriceLike]) -> list[Named]:
    """The rows `text` names, best first, at most MAX_ROWS (see the module's docstring)."""
    asked_words, asked_sizes = _words(text)
    if not asked_words:
        return []
    scored: list[tuple[str, Named]] = []
    for row in rows:
        head = [h for h in _head(row.item) if any(_same(h, w) for w in asked_words)]
        if not head:
            continue
        words, sizes = _words(row.item)
        if asked_sizes and sizes and not (asked_sizes & sizes):
            continue  # "вода 5 литров" does not name "Вода 19 л"
        found = sum(any(_same(word, asked) for asked in asked_words) for word in words)
        score = (found + 1) / (len(words) + 1) + (0.25 if sizes & asked_sizes else 0.0)
        if score >= MIN_SCORE:
            scored.append((head[0], Named(row=row, score=score)))
    order = {word: i for i, word in reversed(list(enumerate(asked_words)))}
    best: dict[str, float] = {}
    for family, named in scored:
        best[family] = max(best.get(family, 0.0), named.score)
    kept = [named for family, named in scored if named.score >= best[family] - FAMILY_MARGIN]
    best_first = sorted(kept, key=lambda named: -named.score)[:MAX_ROWS]
    # In the order the customer asked ("бутыль ... с доставкой": the water, then the delivery).
    return sorted(best_first, key=lambda named: _asked_at(named.row.item, order))


def _asked_at(item: str, order: dict[str, int]) -> int:
    return min((i for word, i in order.items() if any(_same(word, h) for h in _head(item))), default=len(order))


def amount_words(amount: Decimal) -> str:
    """An amount as the price list writes it: 1200 -> "1 200 ₸", 2500.50 -> "2 500,50 ₸"."""
    whole = int(amount)
    text = f"{whole:,}".replace(",", " ")
    fraction = amount - whole
    if fraction:
        text += f",{round(fraction * 100):02d}"
    return f"{text} ₸"


def _unit_words(unit: str) -> str:
    unit = (unit or "").strip()
    if not unit:
        return ""
    if unit.lower().startswith("мес"):
        return " в месяц"
    if unit.lower().startswith("услуг"):
        return ""
    return f" за {unit}"


def price_line(rows: Sequence[PriceLike]) -> str:
    """One sentence naming each row's item, price and unit: "Вода 19 л (бутыль) — 1 200 ₸ за шт.;
    Доставка по Алматы — 1 500 ₸ за рейс." ("" for no rows)."""
    parts = [f"{row.item} — {amount_words(row.amount)}{_unit_words(row.unit)}" for row in rows]
    if not parts:
        return ""
    sentence = "; ".join(parts)
    return sentence if sentence.endswith(".") else sentence + "."
