"""The price list in the knowledge base, and whether an invoice is for a price on it (pure: text
in, values out; `ai.knowledge.knowledge_prices` reads the rows of the indexed documents).

A price list comes out of a PDF as table rows, one per line, cells joined by " | " (extract.py),
under a header row without digits: "Наименование | Ед. | Цена", then "Вода 19 л (бутыль) | шт. |
1 200 ₸". Prose states a price as "Кулер Aqua Pro — 25 000 ₸." Both become `PriceRow`s.

An invoice matches the price list when its description names price rows and its amount is their
prices times the quantities the description states ("3 бутыли воды 19 л" = 3 × 1 200; "Вода 19 л,
2 шт.; помпа механическая" = 2 × 1 200 + 2 900). Naming is fuzzy about word endings and strict
about everything else: the item's head word (its first word, or a word in its brackets) must be
there, at least half of its words, no word the item does not have, no model code or volume it
does not state ("Кулер Тау-3" names no "Кулер «Тау-2»"), and at most one number left over for
the quantity. What does not match waits for a person; a strict miss costs a minute, a loose
match an invoice for the wrong price.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_QUANTITY = 1000
# Contiguous groupings of a description's parts tried (2 ** (parts - 1)); more parts are one item.
MAX_PARTS = 8
MAX_COMBINATIONS = 5000


@dataclass(frozen=True)
class PriceRow:
    item: str
    unit: str
    amount: Decimal


@dataclass(frozen=True)
class PriceMatch:
    """`matched`: `amount` is the listed price of what the description names. `lines`: the rows
    and quantities it is made of (when matched), or the cheapest reading of the description (when
    it names listed items at another amount). `list_amount`: what `lines` cost by the list; None
    when the description names nothing on the list."""

    amount: Decimal
    matched: bool
    lines: tuple[tuple[PriceRow, int], ...] = ()
    list_amount: Decimal | None = None

    @property
    def below_list(self) -> bool:
        return not self.matched and self.list_amount is not None and self.amount < self.list_amount


# --- Reading the price list ----------------------------------------------------------------------

_GROUPED = r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+"
_MONEY = re.compile(
    rf"^(?P<number>{_GROUPED}|\d+)(?:[.,](?P<tiyn>\d{{1,2}}))?\s*(?P<currency>₸|тг\.?|тенге|kzt)?$", re.IGNORECASE
)
_PRICE_HEADER = re.compile(r"цен|стоим|сумм|тариф|баға|бағасы|price", re.IGNORECASE)
_UNIT_HEADER = re.compile(r"^(ед|единиц|өлшем|бірлік|unit)", re.IGNORECASE)
_ITEM_HEADER = re.compile(r"наимен|товар|услуг|позиц|продук|атау|item|name|product", re.IGNORECASE)
_PROSE_PRICE = re.compile(
    rf"(?:^|(?<=[.!?;:]\s))(?P<item>[^.!?;:\n|]{{2,80}}?)\s+[—–-]\s+(?P<amount>{_GROUPED}|\d+)\s*(?:₸|тг\.?|тенге)"
    r"(?=[\s.,;!?)]|$)",
    re.IGNORECASE | re.MULTILINE,
)


def money_cell(text: str, *, currency_required: bool) -> Decimal | None:
    """A price cell as an amount: "1 200 ₸" -> 1200, "2 500,50" -> 2500.50; None for anything else
    ("от 1 500 ₸", "1–2 тыс."). Without a currency sign only when `currency_required` is off."""
    match = _MONEY.match(" ".join(text.split()))
    if match is None or (currency_required and not match.group("currency")):
        return None
    whole = re.sub(r"\D", "", match.group("number"))
    try:
        amount = Decimal(whole) + Decimal(f"0.{match.group('tiyn')}") if match.group("tiyn") else Decimal(whole)
    except InvalidOperation:
        return None
    return amount if amount > 0 else None


@dataclass(frozen=True)
class _Header:
    cells: int
    item: int
    unit: int | None
    prices: tuple[int, ...]


def _header(cells: list[str]) -> _Header | None:
    """Column roles of a header row ("Наименование | Ед. | Цена"), or None when it is not one."""
    if any(ch.isdigit() for cell in cells for ch in cell):
        return None
    prices = tuple(i for i, cell in enumerate(cells) if _PRICE_HEADER.search(cell))
    if not prices:
        return None
    unit = next((i for i, cell in enumerate(cells) if i not in prices and _UNIT_HEADER.search(cell.strip())), None)
    others = [i for i in range(len(cells)) if i not in prices and i != unit]
    if not others:
        return None
    item = next((i for i in others if _ITEM_HEADER.search(cells[i])), others[0])
    return _Header(cells=len(cells), item=item, unit=unit, prices=prices)


def _table_rows(cells: list[str], header: _Header | None) -> list[PriceRow]:
    if header is not None and header.cells == len(cells):
        item = cells[header.item].strip()
        unit = cells[header.unit].strip() if header.unit is not None else ""
        amounts = [money_cell(cells[i], currency_required=False) for i in header.prices]
        return [PriceRow(item, unit, amount) for amount in amounts if amount is not None and _has_letters(item)]
    # No header for this row: the last cell is the price when it says so (a currency sign), the first
    # the item, a short cell without digits just before the price the unit.
    amount = money_cell(cells[-1], currency_required=True)
    item = cells[0].strip()
    if amount is None or len(cells) < 2 or not _has_letters(item):
        return []
    before = cells[-2].strip() if len(cells) >= 3 else ""
    unit = before if before and len(before) <= 15 and not any(ch.isdigit() for ch in before) else ""
    return [PriceRow(item, unit, amount)]


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def price_rows(text: str) -> list[PriceRow]:
    """The price rows a text states: table rows (under their header's column roles, a header
    lasting while the table goes on, across blank lines) and prose "Item — 25 000 ₸". In order,
    without repeats."""
    rows: list[PriceRow] = []
    header: _Header | None = None
    for line in text.splitlines():
        if "|" in line:
            cells = line.split("|")
            if not any(ch.isdigit() for ch in line):
                header = _header(cells)  # a new header, or a row of words that ends the old one's reach
                continue
            rows.extend(_table_rows(cells, header))
            continue
        if line.strip():
            header = None
            for match in _PROSE_PRICE.finditer(line):
                item = " ".join(match.group("item").split()).strip(" ,—–-")
                amount = money_cell(match.group("amount"), currency_required=False)
                if amount is not None and _has_letters(item):
                    rows.append(PriceRow(item, "", amount))
    return list(dict.fromkeys(rows))


# --- Naming an item ------------------------------------------------------------------------------

_QUOTES = str.maketrans("", "", "«»\"“”„'`")
# A model code: letters joined to digits ("Тау-2", "TAU0307"); two letters at least, so "x3" stays a quantity.
_CODE = re.compile(r"(?<![\w-])([^\W\d_]{2,})[-‑]?(\d+[^\W_]*)(?![\w-])")
_MONEY_IN_TEXT = re.compile(rf"(?:{_GROUPED}|\d+)(?:[.,]\d{{1,2}})?\s*(?:₸|тг\.?|тенге|kzt)", re.IGNORECASE)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+")
# A number followed by one of these is a size ("19 л"), never a quantity.
_MEASURES = frozenset("л литр литра литров мл кг г гр грамм м см мм вт квт мес месяц месяца месяцев".split())
_NUMBER_WORDS = {
    "один": 1, "одна": 1, "одну": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5,
    "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10,
}  # fmt: skip
# Words a description may carry besides the item's own: counts, packaging, the act of buying.
_FILLER = frozenset(
    "шт штук штуки штука уп упак упаковка упаковки упаковок ед единица единицы услуга по за для на из при от и "
    "с со в во к без или а также плюс x х покупка оплата заказ счет товар позиция количество кол итого всего".split()
)


def _norm(text: str) -> str:
    return text.lower().replace("ё", "е").translate(_QUOTES)


@dataclass(frozen=True)
class _Words:
    codes: frozenset[str]
    words: tuple[str, ...]
    head: frozenset[str]
    sizes: Counter[str]  # numbers with a measure ("19" of "19 л")
    counts: tuple[str, ...]  # other numbers, in order


def _words(text: str) -> _Words:
    text = _norm(_MONEY_IN_TEXT.sub(" ", text))
    codes = frozenset(letters + digits for letters, digits in _CODE.findall(text))
    bracketed = " ".join(re.findall(r"\(([^)]*)\)", text))
    text = _CODE.sub(" ", text)
    tokens = _TOKEN.findall(text)
    words: list[str] = []
    sizes: Counter[str] = Counter()
    counts: list[str] = []
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            number = token.replace(",", ".")
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if following in _MEASURES:
                sizes[number] += 1
            else:
                counts.append(number)
        elif token in _NUMBER_WORDS:
            counts.append(str(_NUMBER_WORDS[token]))
        elif len(token) >= 3 and token not in _FILLER and token not in _MEASURES:
            words.append(token)
    head = {words[0]} if words else set()
    head.update(w for w in _TOKEN.findall(bracketed) if len(w) >= 3 and w not in _FILLER and not w[0].isdigit())
    return _Words(codes=codes, words=tuple(words), head=frozenset(head), sizes=sizes, counts=tuple(counts))


def _same(a: str, b: str) -> bool:
    """One word in two endings: "бутыли"/"бутыль", "воды"/"вода", "кулера"/"кулер"."""
    return a == b or _common_prefix(a, b) >= max(3, min(len(a), len(b)) - 2)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _quantity(row: _Words, part: _Words) -> int | None:
    """The quantity a description part states for the row it names, 1 when none; None when the
    part does not name the row."""
    if part.codes != row.codes:
        return None
    if not row.head or not any(_same(w, h) for w in part.words for h in row.head):
        return None
    if any(not any(_same(w, r) for r in row.words) for w in part.words):
        return None
    if 2 * sum(any(_same(r, w) for w in part.words) for r in row.words) < len(row.words):
        return None
    if part.sizes - row.sizes:
        return None  # a size the item does not have ("Вода 5 л" for "Вода 19 л")
    stated = Counter(row.counts) + (row.sizes - part.sizes)  # the item's own numbers may be repeated bare
    left = list((Counter(part.counts) - stated).elements())
    if not left:
        return 1
    if len(left) > 1 or not left[0].isdigit():
        return None
    quantity = int(left[0])
    return quantity if 1 <= quantity <= MAX_QUANTITY else None


# Where a description may list several items; each grouping of the parts is tried, the whole first.
_SPLIT = re.compile(r"\s*(?:[;+\n]|,(?!\d)|\s(?:и|плюс|с|со)\s)\s*", re.IGNORECASE)


def _groupings(parts: list[str]) -> list[list[str]]:
    """Every way to cut `parts` into contiguous groups, fewest groups first."""
    if len(parts) > MAX_PARTS:
        return [[" ".join(parts)]]
    found = []
    for cuts in range(len(parts)):
        for where in itertools.combinations(range(1, len(parts)), cuts):
            edges = (0, *where, len(parts))
            found.append([" ".join(parts[a:b]) for a, b in itertools.pairwise(edges)])
    return found


def price_match(*, description: str, amount: Decimal, prices: list[PriceRow]) -> PriceMatch:
    """Whether `amount` is the listed price of what `description` names (quantities allowed).
    See the module's docstring for what "names" means."""
    rows = [(row, _words(row.item)) for row in prices]
    parts = [p for p in _SPLIT.split(description or "") if p.strip()]
    cheapest: tuple[Decimal, tuple[tuple[PriceRow, int], ...]] | None = None
    for grouping in _groupings(parts):
        options = []
        for group in grouping:
            words = _words(group)
            named = [(row, qty) for row, row_words in rows if (qty := _quantity(row_words, words)) is not None]
            if not named:
                break
            options.append(named)
        else:
            for lines in itertools.islice(itertools.product(*options), MAX_COMBINATIONS):
                total = sum((row.amount * qty for row, qty in lines), Decimal("0"))
                if total == amount:
                    return PriceMatch(amount=amount, matched=True, lines=tuple(lines), list_amount=total)
                if cheapest is None or total < cheapest[0]:
                    cheapest = (total, tuple(lines))
    if cheapest is None:
        return PriceMatch(amount=amount, matched=False)
    return PriceMatch(amount=amount, matched=False, lines=cheapest[1], list_amount=cheapest[0])
