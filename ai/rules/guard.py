"""The number guard: a reply may only state prices, amounts, discounts and percentages that the
knowledge base states. Pure functions; the pipeline decides what to do with a violation."""

from __future__ import annotations

import re

# A number as people write money: 1500, 1 500, 1 500, 1.500, 1,500, 12.5 — then an optional
# currency or percent marker.
_NUMBER = re.compile(
    r"(?<![\d:.,/+])(\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+|\d+(?:[.,]\d+)?)"
    r"\s*(%|процент\w*|₸|тг\.?|тенге|kzt|руб\w*|₽|\$|usd|долл\w*|тыс\.?\s*(?:₸|тг|тенге)?)?",
    re.IGNORECASE,
)
_MONEY_WORDS = re.compile(r"(цен|стоим|стоит|скидк|тариф|оплат|руб|тенге|₸|тг|бюджет|залог|аренд)", re.IGNORECASE)
_TIME_OR_DATE = re.compile(r"^\d{1,2}[:.]\d{2}$")


def _normalise(number: str, marker: str) -> str:
    digits = re.sub(r"[ \u00a0\u202f]", "", number)
    # "1.500" / "1,500" with three digits after the separator is a thousands separator.
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):
        digits = re.sub(r"[.,]", "", digits)
    digits = digits.replace(",", ".")
    marker = (marker or "").lower()
    if marker.startswith("тыс"):
        digits = str(int(float(digits) * 1000))
    if marker == "%" or marker.startswith("процент"):
        return digits + "%"
    return digits


def stated_figures(text: str, *, all_numbers: bool = False) -> set[str]:
    """The money-like figures in `text`, normalised ("1 500 ₸" -> "1500", "10 %" -> "10%").
    A figure counts when it carries a currency or percent marker, or sits next to a money word;
    times, dates, phone numbers and small counts ("3 бутыли") are not figures.
    With `all_numbers`, every number counts (for the knowledge base side)."""
    found: set[str] = set()
    for match in _NUMBER.finditer(text or ""):
        number, marker = match.group(1), match.group(2) or ""
        if _TIME_OR_DATE.match(number) and not marker:
            continue
        context = text[max(0, match.start() - 25) : match.end() + 15]
        if all_numbers or marker or (_MONEY_WORDS.search(context) and len(re.sub(r"\D", "", number)) >= 3):
            found.add(_normalise(number, marker))
    return found


def known_figures(knowledge: str) -> frozenset[str]:
    """Every figure the knowledge base states (parse once, check many replies)."""
    return frozenset(stated_figures(knowledge, all_numbers=True))


def unsupported_figures(reply: str, knowledge: str | frozenset[str]) -> list[str]:
    """Figures the reply states that the knowledge base does not. A percentage must appear as a
    percentage; an amount as a number anywhere in the knowledge base. `knowledge` is its text or
    its `known_figures`."""
    known = knowledge if isinstance(knowledge, frozenset) else known_figures(knowledge)
    known_amounts = {k for k in known if not k.endswith("%")}
    missing = []
    for figure in sorted(stated_figures(reply)):
        if figure.endswith("%"):
            ok = figure in known
        else:
            ok = figure in known_amounts
        if not ok:
            missing.append(figure)
    return missing
