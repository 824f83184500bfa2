"""Number guard benchmark (`make bench`): how often it blocks a grounded reply, and how often it
lets an invented figure through.

The knowledge base is real: the demo company's PDFs (knowledge_base/demo) and the real-world PDFs
of /work/shared/testdata (a Polish invoice, a bank statement, a US Federal Register page...) when
they are there, loaded with `knowledge_load` and read back through `knowledge_figures`, as the
compose step does. From it the replies are built:
- grounded: every knowledge base line quoted as the offline assistant quotes it; each price,
  percentage and term it states, re-spelled the ways people write them (grouping, shorthand,
  currency words, number words, Kazakh) in reply templates, with dates, booking slots, phone
  numbers, models and quantities around them; the arithmetic a reply shows (a quantity times a
  price, a price less the stated discount, the sum of two prices);
- invented: the same prices, percentages and terms perturbed to values the knowledge base does not
  state anywhere, in the same spellings, next to a real price, as bare amounts and totals with no
  quantity, and real prices in a foreign currency.
The figures the replies are built from are read out of the knowledge base by this file's own
simple parser, not the guard's. Rates are printed and recorded; nothing is asserted on them."""

from __future__ import annotations

import itertools
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from ai.knowledge import knowledge_figures, knowledge_load
from ai.models import KnowledgeChunk
from ai.rules.guard import unsupported_figures
from tests.system.bench.util import record, report

pytestmark = [pytest.mark.bench, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "knowledge_base" / "demo"
TESTDATA = Path("/work/shared/testdata/pdfs")

NBSP, NNBSP = "\u00a0", "\u202f"
# What the assistant says around figures that are no claims: booking slots, dates, phones,
# models, quantities, sizes, years.
AROUND = [
    "",
    " Созвон с менеджером: вторник, 24.11 в 11:00.",
    " Можем созвониться завтра, 25 ноября, в 15:30 — удобно?",
    " Ваш номер +7 701 234 56 78, верно?",
    " Перезвоним на 8 (701) 234-56-78 до 18:00.",
    " Привезём 2 бутыли 19 л в субботу с 9:00 до 20:00.",
    " Заявки принимаем 24/7.",
    " Кулер Тау-2 есть в наличии.",
    " Доставка 25.11.2026, заказ № 10452.",
    " Работаем с 2015 года, это ваш 3-й заказ у нас 😊",
    " Сағат 10:00-де хабарласамыз.",
]
TEMPLATES_RU = [
    "{item} — {price}.",
    "Здравствуйте! {item} стоит {price}.",
    "По прайсу: {item}, {price}.",
    "{item}: цена {price}, оформляем?",
    "Да, есть. {item} — {price} 😊",
    "{item} — от {price}, точную сумму посчитаем по заказу.",
    "{item} обойдётся в {price} за штуку.",
    "Стоимость ({item}): {price}/шт.",
]
TEMPLATES_KK = [
    "{item} бағасы {price}.",
    "Сәлеметсіз бе! {item} — {price}.",
]
WORDS_RU = {
    5: "пять",
    10: "десять",
    12: "двенадцать",
    15: "пятнадцать",
    20: "двадцать",
    23: "двадцать три",
    25: "двадцать пять",
    30: "тридцать",
    40: "сорок",
    50: "пятьдесят",
}
WORDS_KK = {5: "бес", 10: "он", 15: "он бес", 20: "жиырма", 23: "жиырма үш", 25: "жиырма бес", 30: "отыз", 50: "елу"}


@dataclass(frozen=True)
class Price:
    item: str
    value: Decimal
    currency: str  # as the knowledge base writes it after the number: "₸", "PLN", ""


@dataclass(frozen=True)
class Reply:
    text: str
    kind: str  # what the reply exercises, for the breakdown
    spelling: str = ""


# -- reading figures out of the knowledge base (deliberately simple; not the guard's parser) ----

AMOUNT = re.compile(r"^(\d{1,3}(?:[ ,.\u00a0]\d{3})*|\d+)(?:[.,](\d{1,2}))?\s*(₸|PLN|EUR|тенге)?$")


def amount(text: str) -> tuple[Decimal, str] | None:
    m = AMOUNT.match(text.strip())
    if not m:
        return None
    whole = re.sub(r"\D", "", m.group(1))
    return Decimal(f"{whole}.{m.group(2) or '0'}"), m.group(3) or ""


def prices(lines: Iterable[str]) -> list[Price]:
    """Table rows: the first cell names the item, a cell that is an amount is its price."""
    found: dict[tuple[str, Decimal], Price] = {}
    for line in lines:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 2 or re.search(r"\d{2}[./-]\d{2}[./-]\d{2,4}", cells[0]):
            item = cells[1] if len(cells) > 2 else ""
        else:
            item = cells[0]
        item = re.sub(r"^\d+\s+", "", item)  # "1 Testy Książę": a row number
        if len(cells) < 2 or not re.search(r"[^\W\d_]{3}", item):
            continue
        for cell in cells[1:]:
            parsed = amount(cell)
            if parsed and parsed[0] >= 10:
                found.setdefault((item, parsed[0]), Price(item, parsed[0], parsed[1]))
    return list(found.values())


def percents(text: str) -> set[int]:
    return {int(p) for p in re.findall(r"(?<![\d,.])(\d{1,2})\s*%", text)}


TERM = re.compile(r"(?<![\d,.])(\d{1,3})\s+(дн|месяц|минут)\w*")


def terms(text: str) -> set[tuple[int, str]]:
    return {(int(n), unit) for n, unit in TERM.findall(text)}


def every_number(text: str) -> set[Decimal]:
    """Each number the knowledge base writes, as loosely as it may be read (an invented figure
    must be none of them)."""
    out: set[Decimal] = set()
    for token in re.findall(r"\d[\d\s.,\u00a0]*\d|\d", text):
        for part in [token, *re.split(r"\s+", token)]:
            parsed = amount(part)
            if parsed:
                out.add(parsed[0])
            out.add(Decimal(re.sub(r"\D", "", part) or 0))
    return out


# -- spelling figures as people do --------------------------------------------------------------


def grouped(value: int, sep: str) -> str:
    return f"{value:,}".replace(",", sep)


def shortened(value: int, unit: int) -> str:
    """12500, 1000 -> "12.5"; 70000, 1000 -> "70"."""
    text = f"{Decimal(value) / unit:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def tenge_spellings(value: Decimal) -> list[tuple[str, str]]:
    """(spelling, name) of a tenge amount."""
    if value != value.to_integral_value():
        text = f"{value:.2f}"
        return [(f"{text.replace('.', ',')} ₸", "decimal comma"), (f"{text} тг", "decimal point")]
    v = int(value)
    out = [
        (f"{grouped(v, ' ')} ₸", "1 200 ₸"),
        (f"{v} тг", "1200 тг"),
        (f"{grouped(v, NBSP)} тенге", "NBSP тенге"),
        (f"{grouped(v, NNBSP)} ₸", "narrow NBSP ₸"),
        (f"{grouped(v, ' ')} KZT", "KZT"),
        (f"{v}₸", "1200₸"),
        (f"{grouped(v, ' ')} теңге", "теңге"),
        (f"{v} т.", "т."),
    ]
    if v >= 1000:
        out += [(f"{grouped(v, '.')} ₸", "1.200 ₸"), (f"{grouped(v, ',')} тенге", "1,200 тенге")]
    if v >= 1000 and v % 100 == 0:
        short = shortened(v, 1000)
        out += [
            (f"{short.replace('.', ',')} тыс. ₸", "1,2 тыс. ₸"),
            (f"{short}к", "1.2к"),
            (f"{short.replace('.', ',')} мың теңге", "мың теңге"),
        ]
    if v >= 1_000_000 and v % 100_000 == 0:
        short = shortened(v, 1_000_000)
        out.append((f"{short.replace('.', ',')} млн тенге", "млн"))
    return out


def foreign_spellings(value: Decimal, currency: str) -> list[tuple[str, str]]:
    text = f"{value:.2f}" if value != value.to_integral_value() else str(int(value))
    words = {"PLN": ["PLN", "zł"], "EUR": ["EUR", "евро"]}[currency]
    return [(f"{text.replace('.', ',')} {w}", currency) for w in words] + [(f"{text} {currency}", currency)]


def spellings(price: Price) -> list[tuple[str, str]]:
    if price.currency in ("PLN", "EUR"):
        return foreign_spellings(price.value, price.currency)
    return tenge_spellings(price.value)


def percent_spellings(p: int) -> list[tuple[str, str]]:
    out = [(f"скидка {p}%", "%"), (f"скидка {p} %", "% spaced"), (f"скидка {p} процентов", "процентов")]
    out += [(f"минус {p} проц.", "проц."), (f"{p} пайыз жеңілдік", "пайыз")]
    if p in WORDS_RU:
        out.append((f"скидка {WORDS_RU[p]} процентов", "number words"))
    if p in WORDS_KK:
        out.append((f"{WORDS_KK[p]} пайыз жеңілдік", "Kazakh number words"))
    if p == 50:
        out.append(("отдадим в полцены", "полцены"))
    return out


def term_spellings(n: int, unit: str) -> list[tuple[str, str]]:
    days = {"дн": n, "месяц": n * 30, "минут": None}[unit]
    out: list[tuple[str, str]] = []
    if unit == "дн":
        out += [(f"в течение {n} дней", "дней"), (f"{n} күн ішінде", "күн")]
        if days and days % 7 == 0:
            weeks = days // 7
            out.append((f"в течение {weeks} недель" if weeks > 4 else f"в течение {weeks} нед.", "недели"))
    elif unit == "месяц":
        out += [(f"{n} месяцев", "месяцев"), (f"{n} мес.", "мес."), (f"{n} ай", "ай")]
        if n % 12 == 0:
            out += [(f"{n // 12} год" if n == 12 else f"{n // 12} года", "год"), (f"{n // 12} жыл", "жыл")]
        if n == 6:
            out.append(("полгода", "полгода"))
    else:
        out += [(f"около {n} минут", "минут"), (f"{n} мин.", "мин.")]
    return out


# -- the replies ---------------------------------------------------------------------------------


def pick(options: list[str], i: int) -> str:
    return options[i % len(options)]


def grounded_replies(lines: list[str], found: list[Price], pcts: set[int], found_terms: set) -> list[Reply]:
    out = [Reply(f"По нашим материалам: «{line}»", "quote") for line in lines if re.search(r"\d", line)]
    i = 0
    tenge = [p for p in found if p.currency not in ("PLN", "EUR") and p.value == p.value.to_integral_value()]
    for price in found:
        for spelling, name in spellings(price):
            templates = TEMPLATES_KK if name in ("теңге", "мың теңге") else TEMPLATES_RU
            text = pick(templates, i).format(item=price.item, price=spelling) + pick(AROUND, i)
            out.append(Reply(text, "price", name))
            i += 1
    for price in tenge:
        v, n = int(price.value), 2 + i % 3
        each = pick([t for t, _ in tenge_spellings(price.value)], i)
        out.append(Reply(f"{price.item}: {n} шт. по {each} — итого {grouped(v * n, ' ')} ₸.", "total"))
        for p in sorted(pcts):
            off = price.value * (100 - p) / 100
            if off == off.to_integral_value():
                out.append(Reply(f"{price.item} со скидкой {p}% — {grouped(int(off), ' ')} ₸.", "discounted"))
        i += 1
    for first, second in itertools.pairwise(tenge):
        total = grouped(int(first.value + second.value), " ")
        out.append(
            Reply(
                f"{first.item} — {grouped(int(first.value), ' ')} ₸, {second.item} — {int(second.value)} тг, "
                f"вместе {total} ₸." + pick(AROUND, i),
                "two prices and their sum",
            )
        )
        i += 1
    for p in sorted(pcts):
        for spelling, name in percent_spellings(p):
            out.append(Reply(f"Да, {spelling} при заказе от 10 бутылей." + pick(AROUND, i), "percent", name))
            i += 1
    for n, unit in sorted(found_terms):
        for spelling, name in term_spellings(n, unit):
            out.append(Reply(f"Срок — {spelling}." + pick(AROUND, i), "term", name))
            i += 1
    return out


def perturbed(value: Decimal, taken: set[Decimal]) -> list[Decimal]:
    """Values near a real one that the knowledge base states nowhere."""
    if value != value.to_integral_value():
        candidates = [value + Decimal("1.10"), value * 2, value - Decimal("0.50")]
    else:
        v = int(value)
        candidates = [v + 100, v - 100 if v > 200 else v + 300, round(v * 1.1, -1), v * 2, v + 990]
    out = []
    for c in candidates:
        c = Decimal(c)
        if c > 0 and c not in taken and c not in out:
            out.append(c)
    return out


def invented_replies(found: list[Price], pcts: set[int], found_terms: set, taken: set[Decimal]) -> list[Reply]:
    out: list[Reply] = []
    i = 0
    for price in found:
        for value in perturbed(price.value, taken):
            for spelling, name in spellings(Price(price.item, value, price.currency)):
                templates = TEMPLATES_KK if name in ("теңге", "мың теңге") else TEMPLATES_RU
                text = pick(templates, i).format(item=price.item, price=spelling) + pick(AROUND, i)
                out.append(Reply(text, "price", name))
                i += 1
        if price.currency in ("", "₸", "тенге") and price.value == price.value.to_integral_value():
            v = int(price.value)
            for spelling in (f"{v} евро", f"${v}", f"{grouped(v, ' ')} руб.", f"{v} долларов"):
                out.append(Reply(f"{price.item} — {spelling}.", "a real price in a foreign currency"))
            if Decimal(v + 500) not in taken:
                out.append(Reply(f"{price.item} — всего {grouped(v + 500, ' ')} за штуку.", "bare amount"))
            if Decimal(v * 3) not in taken:
                out.append(Reply(f"{price.item}: итого {grouped(v * 3, ' ')} ₸.", "total without a quantity"))
    for first, second in itertools.pairwise(found):
        for value in perturbed(second.value, taken)[:2]:
            fake = pick([t for t, _ in spellings(Price(second.item, value, second.currency))], i)
            real = pick([t for t, _ in spellings(first)], i)
            text = f"{first.item} — {real}, а {second.item} — {fake}." + pick(AROUND, i)
            out.append(Reply(text, "a real price and an invented one"))
            i += 1
    for p in sorted({5, 15, 20, 25, 30, 50} - pcts):
        for spelling, name in percent_spellings(p):
            out.append(Reply(f"Для вас {spelling}!" + pick(AROUND, i), "percent", name))
            i += 1
    real_days = {n for n, u in found_terms if u == "дн"} | {n * 30 for n, u in found_terms if u == "месяц"}
    for n, unit in [(30, "дн"), (21, "дн"), (24, "месяц"), (3, "месяц"), (36, "месяц"), (20, "минут"), (90, "минут")]:
        if (n, unit) in found_terms or (unit != "минут" and (n if unit == "дн" else n * 30) in real_days):
            continue
        for spelling, name in term_spellings(n, unit):
            out.append(Reply(f"Гарантия — {spelling}." + pick(AROUND, i), "term", name))
            i += 1
    return out


def rate(replies: list[Reply], blocked: Callable[[str], bool], *, want_blocked: bool) -> tuple[float, list[Reply]]:
    wrong = [r for r in replies if blocked(r.text) != want_blocked]
    return len(wrong) / len(replies), wrong


# -- the benchmark ---------------------------------------------------------------------------------


@pytest.fixture
def knowledge_base(tmp_path, settings):
    settings.KNOWLEDGE_BASE_PATH = tmp_path
    for pdf in [*DEMO.glob("*.pdf"), *(TESTDATA.glob("*.pdf") if TESTDATA.is_dir() else [])]:
        shutil.copy(pdf, tmp_path / pdf.name)
    results = knowledge_load(path=tmp_path)
    return [r for r in results if r.status == "indexed"]


def test_the_guard_blocks_few_grounded_replies_and_misses_few_invented_figures(knowledge_base):
    texts = list(KnowledgeChunk.objects.filter(document__status="indexed").values_list("text", flat=True))
    text = "\n".join(texts)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found, pcts, found_terms = prices(lines), percents(text), terms(text)
    known = knowledge_figures()

    grounded = grounded_replies(lines, found, pcts, found_terms)
    invented = invented_replies(found, pcts, found_terms, every_number(text))

    started = time.perf_counter()
    false_block, blocked_grounded = rate(grounded, lambda t: bool(unsupported_figures(t, known)), want_blocked=False)
    miss, missed = rate(invented, lambda t: bool(unsupported_figures(t, known)), want_blocked=True)
    per_reply_us = (time.perf_counter() - started) / (len(grounded) + len(invented)) * 1e6

    record("guard: false-block rate on grounded replies", false_block, target=0.02)
    record("guard: miss rate on invented figures", miss, target=0.02)
    record("guard: check one reply", per_reply_us, "µs")
    summary = (
        f"{len(knowledge_base)} PDFs, {len(found)} prices, {len(pcts)} percentages, {len(found_terms)} terms; "
        f"{len(known)} figures known"
    )
    rows = [
        ("knowledge base", summary),
        ("grounded replies blocked", f"{len(blocked_grounded)}/{len(grounded)} = {false_block:.3f}"),
        *breakdown(grounded, blocked_grounded, "grounded"),
        ("invented figures missed", f"{len(missed)}/{len(invented)} = {miss:.3f}"),
        *breakdown(invented, missed, "invented"),
        ("one check", f"{per_reply_us:.0f} µs"),
    ]
    rows += [
        (f"  blocked: {r.kind}", f"{r.text[:80]} -> {unsupported_figures(r.text, known)}")
        for r in blocked_grounded[:10]
    ]
    rows += [(f"  missed: {r.kind}", r.text[:100]) for r in missed[:10]]
    report("number guard: grounded and invented replies from the knowledge base", rows)


def breakdown(replies: list[Reply], wrong: list[Reply], side: str) -> list[tuple[str, str]]:
    kinds: dict[str, list[int]] = {}
    for r in replies:
        kinds.setdefault(r.kind, [0, 0])[0] += 1
    for r in wrong:
        kinds[r.kind][1] += 1
    verb = "blocked" if side == "grounded" else "missed"
    return [(f"  {kind}", f"{n} replies, {bad} {verb}") for kind, (n, bad) in sorted(kinds.items())]
