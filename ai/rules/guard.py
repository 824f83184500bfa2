"""The number guard: a reply may only state prices, amounts, discounts, percentages and terms that
the knowledge base states. Pure functions; the compose step decides what to do with a violation.

What counts as a figure (a claim the reply makes):
- an amount: digits in any grouping ("9 990", "9\u00a0990", "9.990", "9,990", "1,406,164.00",
  "1 500,50"), with or without a currency ("₸", "тг", "т.", "тенге", "теңге", "KZT", "$", "долл",
  "евро", "€", "руб", "₽", ...) and shorthand ("18к", "1,2 тыс", "65 мың", "0,5 млн"); a bare
  number of 100 or more, or a smaller one right after a money word ("за 50", "по 90", "итого 5");
- a percentage: "%", "проц.", "процентов", "пайыз";
- a term: a number of minutes, hours, days, weeks, months or years ("14 дней", "2 года", "12 ай");
- number words for the same ("пятнадцать процентов", "две тысячи", "он бес пайыз", "полцены",
  "полмиллиона", "вдвое дешевле", "полгода").
Not a figure: dates and times ("24.11", "25.11.2026", "10:00", "24 ноября", "в 10 утра"), years
("с 2015 года"), phone numbers, "24/7" and other slashed pairs, model numbers ("Тау-2", "Т-3"),
order and item numbers ("№ 12345"), addresses ("офис 12"), ordinals ("2-й"), quantities
("2 бутыли", "6 шт.") and sizes ("19 л", "95 °C", "180-250 мг/л"), small bare numbers.

Every figure is normalised to one spelling so the two sides compare equal: an amount in tenge (or
without a currency) as its value ("1200"), in another currency with its code ("7000 EUR"), a
percentage as "15%", a term in days, months or minutes ("14 дн.", "24 мес.", "120 мин.").
A figure passes when the knowledge base states it in any spelling (or the caller allows it: an
invoice's amount, say). An amount in tenge also passes as arithmetic the reply itself shows: a
quantity it states times a price it states, a known price (or that product) less a percentage it
states, or a total of the amounts it states ("2 бутыли по 1 200 ₸ — 2 400 ₸"). Arithmetic on a
price the reply does not state ("15 бутылей — итого 18к") is not shown, so it is a claim."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import combinations

__all__ = ["FIGURES_VERSION", "known_figures", "stated_figures", "unsupported_figures"]

# Raised whenever the spelling of figures changes, so that figures cached by an older guard
# (ai.knowledge.knowledge_figures keeps them a day) are read again instead of compared.
FIGURES_VERSION = 2

_I = re.IGNORECASE

# ---------------------------------------------------------------------------------------------
# What is never a figure: blanked out before numbers are read (the blank keeps the positions).

_SEP = r"[ \t\u00a0\u202f\u2009]"
_MASKS = [
    re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+", _I),
    # "на 100%" / "на сто процентов" means "surely", not a discount
    re.compile(r"\bна\s+(?:все\s+)?(?:сто|100)\s*(?:%|процент\w*)", _I),
    # phone numbers: +7 727 355 00 00, 8 (701) 234-56-78, 87012345678, 355-00-00
    re.compile(r"(?<![\w+])(?:\+\s?7|8|7)?[\s\-]?\(?\d{3}\)?[\s\-]?\d{3}[\s\-]?\d{2}[\s\-]?\d{2}(?!\d)"),
    re.compile(r"(?<![\w+])\d{3}[\s\-]\d{2}[\s\-]\d{2}(?![\d\w])"),
    # dates and times: 25.11.2026, 2026-11-25, 10:00, 9:00-18:00
    re.compile(r"(?<!\d)\d{1,2}[./]\d{1,2}[./]\d{2,4}(?!\d)"),
    re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)"),
    re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"),
    # 24/7, 1/2, 11/2 (an address), 01/14/2016
    re.compile(r"(?<!\d)\d+(?:\s?/\s?\d+)+(?!\d)"),
    # card, account and registration numbers: groups of four digits
    re.compile(r"(?<!\d)\d{4}(?:[ \-]\d{4}){2,}(?!\d)"),
]

# ---------------------------------------------------------------------------------------------
# Numbers in digits. The alternatives go from the most specific grouping to the plainest.

_DIGITS = re.compile(
    rf"""(?<![\w])(?:
        \d{{1,3}}(?:{_SEP}\d{{3}})+(?:[.,]\d{{1,2}}(?!\d))?   # 1 500 / 1 500,50
      | \d{{1,3}}(?:,\d{{3}})+\.\d+                            # 1,406,164.00
      | \d{{1,3}}(?:\.\d{{3}})+,\d+                            # 1.406.164,00
      | \d{{1,3}}(?:,\d{{3}}){{2,}}                            # 1,406,164
      | \d{{1,3}}(?:\.\d{{3}}){{2,}}                           # 1.500.000
      | \d+(?:[.,]\d+)?                                        # 1500 / 1.500 / 1,5 / 12.50
    )(?!\d)""",
    re.VERBOSE,
)


def _digit_readings(text: str) -> tuple[Decimal, ...]:
    """The values a written number can mean, the likelier first: "1.500" is 1500, or 1.5."""
    plain = re.sub(_SEP, "", text)
    if re.fullmatch(r"\d{1,3}[.,]\d{3}", plain):
        return (Decimal(re.sub(r"[.,]", "", plain)), Decimal(plain.replace(",", ".")))
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", plain) and plain.count(",") + plain.count(".") > 1:
        return (Decimal(plain.replace(",", "")),)
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", plain) and plain.count(",") + plain.count(".") > 1:
        return (Decimal(plain.replace(".", "").replace(",", ".")),)
    return (Decimal(plain.replace(",", ".")),)


# ---------------------------------------------------------------------------------------------
# Numbers in words (Russian and Kazakh), for the common cases.


# Cardinals ending in -ь, with their oblique forms in -и and -ью ("пятнадцати процентов").
_SOFT_CARDINALS = {
    5: "пять",
    6: "шесть",
    7: "семь",
    9: "девять",
    10: "десять",
    11: "одиннадцать",
    12: "двенадцать",
    13: "тринадцать",
    14: "четырнадцать",
    15: "пятнадцать",
    16: "шестнадцать",
    17: "семнадцать",
    18: "восемнадцать",
    19: "девятнадцать",
    20: "двадцать",
    30: "тридцать",
}
_OTHER_CARDINALS = {
    "1": "один одна одно одного одной одному одним одну бір",
    "1.5": "полтора полторы полутора",
    "2": "два две двух двум двумя екі",
    "3": "три трёх трех трём трем тремя үш",
    "4": "четыре четырёх четырех четырём четырем четырьмя төрт",
    "5": "бес",
    "6": "алты",
    "7": "жеті",
    "8": "восемь восьми восемью восьмью сегіз",
    "9": "тоғыз",
    "10": "он",
    "20": "жиырма",
    "30": "отыз",
    "40": "сорок сорока қырық",
    "50": "пятьдесят пятидесяти пятьюдесятью елу",
    "60": "шестьдесят шестидесяти алпыс",
    "70": "семьдесят семидесяти жетпіс",
    "80": "восемьдесят восьмидесяти сексен",
    "90": "девяносто девяноста тоқсан",
    "100": "сто ста жүз",
    "200": "двести двухсот",
    "300": "триста трёхсот трехсот",
    "400": "четыреста четырёхсот четырехсот",
    "500": "пятьсот пятисот",
    "600": "шестьсот шестисот",
    "700": "семьсот семисот",
    "800": "восемьсот восьмисот",
    "900": "девятьсот девятисот",
    "1000": "тысяча тысячи тысяч тысячу тысячей тысячам тысячами мың",
    "1000000": "миллион миллиона миллионов миллиону миллионом",
}
_WORDS: dict[str, Decimal] = {}
for _value, _word in _SOFT_CARDINALS.items():
    _WORDS.update(dict.fromkeys([_word, _word[:-1] + "и", _word + "ю"], Decimal(_value)))
for _text_value, _spellings in _OTHER_CARDINALS.items():
    _WORDS.update(dict.fromkeys(_spellings.split(), Decimal(_text_value)))
_MULTIPLIERS = {Decimal(1000), Decimal(1_000_000)}
_WORD = "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
_NUMBER_WORDS = re.compile(rf"(?<![\w-])(?:{_WORD})(?:\s+(?:{_WORD}))*(?![\w-])", _I)


def _words_value(text: str) -> Decimal:
    """The value of number words: "две тысячи пятьсот" -> 2500, "он бес" -> 15, "екі жүз" -> 200."""
    total, current = Decimal(0), Decimal(0)
    for word in text.lower().split():
        value = _WORDS[word]
        if value in _MULTIPLIERS:
            total += (current or 1) * value
            current = Decimal(0)
        elif word == "жүз":  # Kazakh hundreds multiply what comes before: екі жүз = 200
            current = (current or 1) * value
        else:
            current += value
    return total + current


# ---------------------------------------------------------------------------------------------
# What follows a number says what it is.

_PERCENT = re.compile(r"\s*(?:%|процент\w*|проц\b\.?|пайыз\w*)", _I)
_MAGNITUDE = [
    (Decimal(1000), re.compile(r"\s*(?:тыс(?:яч\w*)?\b\.?|мың\w*)", _I)),
    (Decimal(1_000_000), re.compile(r"\s*(?:млн\b\.?|миллион\w*)", _I)),
    (Decimal(1_000_000_000), re.compile(r"\s*(?:млрд\b\.?|миллиард\w*)", _I)),
]
# "18к за штуку"; "18 к" apart only when no word follows ("привезём 2 к обеду" is no amount)
_THOUSAND_K = re.compile(r"[кk](?!\w)|\s[кk](?!\w)(?!\s+[^\W\d_])", _I)
_CURRENCIES = [
    ("", r"₸|тг\b\.?|тенге\b|теңге\w*|kzt\b|т\.(?!\s?[а-яё]\.)"),
    ("USD", r"\$|usd\b|долл\w*"),
    ("EUR", r"€|eur\b|евро\b"),
    ("RUB", r"₽|руб\w*|rub\b"),
    ("PLN", r"pln\b|zł|злот\w*"),
    ("CNY", r"¥|cny\b|юан\w*"),
    ("GBP", r"£|gbp\b"),
]
_CURRENCY_AFTER = [(code, re.compile(rf"\s*(?:{rx})", _I)) for code, rx in _CURRENCIES]
_CURRENCY_BEFORE = [
    (code, re.compile(rf"(?:{sign})\s*$", _I))
    for code, sign in [("", r"₸|\bkzt"), ("USD", r"\$|\busd"), ("EUR", r"€|\beur"), ("RUB", r"₽|\brub")]
]
# (canonical unit, factor, pattern)
_TERMS = [
    ("мин.", 1, r"минут\w*|мин\b\.?"),
    ("мин.", 60, r"час(?:а|ов|ы|ам|ами|ах)?\b|ч\b\.?|сағат\w*"),
    ("дн.", 1, r"сут(?:ки|ок|кам|ках)\b|дн(?:я|ей|ям|ями|ях)?\b\.?|день\b|күн\w*"),
    ("дн.", 7, r"недел\w*|нед\b\.?|апта\w*"),
    ("мес.", 1, r"месяц\w*|мес\b\.?|ай(?:\b|ға\b|да\b|лық\w*)"),
    ("мес.", 12, r"год(?:а|у|ом|ы|ов)?\b|лет\b|жыл\w*"),
]
_TERM_AFTER = [(unit, factor, re.compile(rf"\s*(?:{rx})", _I)) for unit, factor, rx in _TERMS]
_YEAR_AFTER = re.compile(r"\s*(?:год\w*|г\.|гг\.|жыл\w*)", _I)
_MONTH_AFTER = re.compile(
    r"\s*(?:январ|феврал|март|апрел|ма[йяе]\b|июн|июл|август|сентябр|октябр|ноябр|декабр|числ"
    r"|қаңтар|ақпан|наурыз|сәуір|мамыр|маусым|шілде|тамыз|қыркүйек|қазан|қараша|желтоқсан)",
    _I,
)
# "в 10 часов", "в 2 дня": a time of day
_TIME_OF_DAY = re.compile(r"\s*(?:утра|вечера|ночи|час(?:а|ов)?\b|дня\b)", _I)
_AT = re.compile(r"(?:^|\s)(?:в|к|с|после|около|до)\s*$", _I)
_COUNT_AFTER = re.compile(
    r"\s*(?:[×xх*]\s*\d|бутыл\w*|бутылок|шт\b\.?|штук\w*|уп\b\.?|упаков\w*|кулер\w*|помп\w*|рейс\w*"
    r"|раз(?:а)?\b|человек\w*|чел\b\.?|позици\w*|коробк\w*|коробок|пачк\w*|пачек|баклаг\w*|единиц\w*"
    r"|заказ\w*|товар\w*|дана\w*|бөтел\w*|құты\w*|рет\b)",
    _I,
)
_MEASURE_AFTER = re.compile(
    r"\s*(?:л\b\.?|литр\w*|мл\b|кг\b|гр\b\.?|г\b|грамм\w*|°|градус\w*|мг\w*|см\b|мм\b|м\b|км\b|вт\b|квт\w*"
    r"|ступен\w*|этаж\w*)",
    _I,
)
# "2-й", "2026-м", "3-ші": ordinals; "5-ти", "1200-ге": case endings of the number itself
_SUFFIX = re.compile(r"-([^\W\d_]+)")
_ORDINAL_ENDINGS = set("й го я е ый ий ой ая яя ое ее ому ему ом ем ым им ую юю м ші шы ыншы інші нші ншы".split())
_COMPOUNDS = [  # "5-летняя", "3-дневный", "19-литровая": a term or a size written as one word
    ("term", "мес.", 12, re.compile(r"лет|годичн|жылдық", _I)),
    ("term", "мес.", 1, re.compile(r"месячн|айлық", _I)),
    ("term", "дн.", 1, re.compile(r"дневн|суточн|күндік", _I)),
    ("term", "мин.", 60, re.compile(r"часов", _I)),
    ("term", "мин.", 1, re.compile(r"минутн", _I)),
    ("percent", "", 1, re.compile(r"процентн|пайыздық", _I)),
]

# ---------------------------------------------------------------------------------------------
# What comes before a number.

_MODEL_BEFORE = re.compile(r"(?:[^\W\d_]-|№\s*|#)$")
_ID_BEFORE = re.compile(
    r"(?:№|номер\w*|артикул\w*|арт\.|код\w*|модел\w*|заказ\w*|id|бин|иин|индекс\w*|договор\w*|сери[яи])"
    r"\s*[:#№—–-]?\s*$",
    _I,
)
_ADDRESS_WORD = re.compile(
    r"(?:^|[\s,(])(?:ул\.|улиц\w*|пр\.|пр-т\w*|просп\w*|мкр\w*|микрорайон\w*|дом\w*|д\.|кв\.|квартир\w*|офис\w*"
    r"|корпус\w*|корп\.|блок\w*|этаж\w*|подъезд\w*|стр\.|строени\w*|көше\w*|үй\w*|пәтер\w*|шағын\s+аудан\w*)",
    _I,
)
# "на Абая 150", "адрес: Абая, 150": a street's name (capitalised) and a house number
_STREET_BEFORE = re.compile(r"(?:^|\s)(?i:на|адрес\w*:?)\s+[А-ЯЁӘҒҚҢӨҰҮҺІA-Z][\w-]+,?\s*$")
_MONEY_WORD = re.compile(  # within the three words before a number
    r"(?:^|[\s,(])(?:стоит\w*|стоим\w*|цен\w*|итого|всего|сумм\w*|минус|скидк\w*|оплат\w*|доплат\w*"
    r"|тариф\w*|залог\w*|бюджет\w*|прайс\w*|дешевле|дороже|бағ\w*|құн\w*|жеңілдік\w*)(?=[\s:—–-]|$)",
    _I,
)
_MONEY_PREPOSITION = re.compile(r"(?:^|\s)(?:за|по)\s*$", _I)  # right before it: "за 50", "по 90"
_RANGE_BETWEEN = re.compile(r"\s*(?:[-–]|до)\s*", _I)
_SENTENCE_END = re.compile(r"[.!?;\n](?=\s)|\n")

# Idioms that state a figure without a number.
_IDIOMS = [
    (
        "percent",
        Decimal(50),
        "",
        re.compile(
            r"(?<!\w)(?:пол-?\s?(?:цены|цену|стоимости)|половин\w*\s+(?:цены|стоимости)"
            r"|вдвое\s+дешевле|в\s+два\s+раза\s+дешевле|жарты\s+баға\w*)(?!\w)",
            _I,
        ),
    ),
    ("amount", Decimal(500_000), "", re.compile(r"(?<!\w)пол-?\s?миллиона(?!\w)", _I)),
    ("amount", Decimal(500), "", re.compile(r"(?<!\w)пол-?\s?тысячи(?!\w)", _I)),
    ("term", Decimal(30), "мин.", re.compile(r"(?<!\w)пол-?\s?часа(?!\w)", _I)),
    ("term", Decimal(6), "мес.", re.compile(r"(?<!\w)пол-?\s?года(?!\w)", _I)),
]


@dataclass(frozen=True)
class _Figure:
    """One number as read: `kind` is amount, percent or term when it is a claim; count, size,
    date, model... when it is not. `readings` are the values it can have as written, the likelier
    first; `factor` what its marker multiplies them by (a thousand for "тыс", 12 for years)."""

    start: int
    end: int
    readings: tuple[Decimal, ...]
    kind: str = ""
    unit: str = ""  # a currency code ("" = tenge) or a term's unit
    factor: Decimal = Decimal(1)
    money_context: bool = False
    words: bool = False

    @property
    def claim(self) -> bool:
        return self.kind in ("amount", "percent", "term")

    @property
    def value(self) -> Decimal:
        return self.readings[0] * self.factor

    def spellings(self, *, every_reading: bool = False) -> list[str]:
        values = [r * self.factor for r in (self.readings if every_reading else self.readings[:1])]
        if self.kind == "percent":
            return [f"{_text(v)}%" for v in values]
        if self.kind == "term" or (self.kind == "amount" and self.unit):
            return [f"{_text(v)} {self.unit}" for v in values]
        return [_text(v) for v in values]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _mask(text: str) -> str:
    for pattern in _MASKS:
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    return text


def _sentence_before(text: str, start: int) -> str:
    head = text[max(0, start - 60) : start]
    ends = list(_SENTENCE_END.finditer(head))
    return head[ends[-1].end() :] if ends else head


def _classify(text: str, figure: _Figure) -> _Figure:
    """What the number at `figure` is, from the text around it."""
    start, end = figure.start, figure.end
    before = text[max(0, start - 40) : start]
    sentence = _sentence_before(text, start)
    words_before = " " + " ".join(sentence.split()[-3:])
    money = bool(_MONEY_WORD.search(words_before) or _MONEY_PREPOSITION.search(sentence))
    figure = replace(figure, money_context=money)
    if not figure.words and _MODEL_BEFORE.search(before):
        return replace(figure, kind="model")

    suffix = _SUFFIX.match(text, end)
    if suffix:
        ending = suffix.group(1).lower()
        if ending in _ORDINAL_ENDINGS:
            return replace(figure, kind="ordinal")
        for kind, unit, factor, pattern in _COMPOUNDS:
            if pattern.match(ending):
                return replace(figure, kind=kind, unit=unit, factor=Decimal(factor), end=suffix.end())
        if ending.startswith("литр"):
            return replace(figure, kind="size")
        end = suffix.end()  # a case ending: "1200-ге", "5-ти"

    percent = _PERCENT.match(text, end)
    if percent:
        if figure.value == 100 and not figure.money_context:
            return replace(figure, kind="sure")  # "100% натуральная", "сто процентов успеем"
        return replace(figure, kind="percent", end=percent.end())

    magnitude = None
    for factor, pattern in _MAGNITUDE:
        found = pattern.match(text, end)
        if found:
            magnitude, end = factor, found.end()
            break
    if magnitude is None and not figure.words:
        found = _THOUSAND_K.match(text, end)
        if found:
            magnitude, end = Decimal(1000), found.end()
    if magnitude is not None:
        # "1.500 млн" is one and a half million: before a magnitude, a point is a decimal point.
        figure = replace(figure, factor=magnitude, readings=tuple(reversed(figure.readings)))
    for code, pattern in _CURRENCY_AFTER:
        found = pattern.match(text, end)
        if found:
            return replace(figure, kind="amount", unit=code, end=found.end())
    if magnitude is not None:
        return replace(figure, kind="amount", end=end)

    value = figure.value
    if 1900 <= value <= 2100 and value == value.to_integral_value() and _YEAR_AFTER.match(text, end):
        return replace(figure, kind="year")
    if _MONTH_AFTER.match(text, end):
        return replace(figure, kind="date")
    if value <= 24 and _AT.search(sentence) and _TIME_OF_DAY.match(text, end):
        return replace(figure, kind="time")
    for unit, factor, pattern in _TERM_AFTER:
        found = pattern.match(text, end)
        if found:
            if figure.words and value == 1:
                return replace(figure, kind="small")  # "одну минуту", "в один день": a manner of speaking
            return replace(figure, kind="term", unit=unit, factor=Decimal(factor), end=found.end())
    if _COUNT_AFTER.match(text, end):
        return replace(figure, kind="count")
    if _MEASURE_AFTER.match(text, end):
        return replace(figure, kind="size")
    for code, pattern in _CURRENCY_BEFORE:  # "$25", "₸ 1 500"
        if pattern.search(before):
            return replace(figure, kind="amount", unit=code, end=end)
    if not figure.words and _ID_BEFORE.search(sentence):
        return replace(figure, kind="id")
    if _ADDRESS_WORD.search(words_before) or _STREET_BEFORE.search(sentence):
        return replace(figure, kind="address")
    return figure  # bare: decided after ranges


def _read(text: str) -> list[_Figure]:
    """Every number in `text`, classified."""
    masked = _mask(text or "")
    figures: list[_Figure] = []
    taken = bytearray(len(masked))  # the characters a figure already covers

    def take(figure: _Figure) -> None:
        figures.append(figure)
        taken[figure.start : figure.end] = b"\x01" * (figure.end - figure.start)

    for kind, value, unit, pattern in _IDIOMS:
        for m in pattern.finditer(masked):
            take(_Figure(m.start(), m.end(), (value,), kind=kind, unit=unit, words=True))
    for m in _DIGITS.finditer(masked):
        if not any(taken[m.start() : m.end()]):
            take(_classify(masked, _Figure(m.start(), m.end(), _digit_readings(m.group()))))
    for m in _NUMBER_WORDS.finditer(masked):
        if not any(taken[m.start() : m.end()]):
            take(_classify(masked, _Figure(m.start(), m.end(), (_words_value(m.group()),), words=True)))
    figures.sort(key=lambda f: f.start)
    return _bare(masked, _ranges(masked, figures))


def _ranges(text: str, figures: list[_Figure]) -> list[_Figure]:
    """ "1 000–1 500 ₸", "10-15%", "от 3 до 5 дней", "180-250 мг/л": the first number of a range
    is what the second one is."""
    out = list(figures)
    for i in range(len(out) - 2, -1, -1):
        first, second = out[i], out[i + 1]
        if first.kind or not second.kind or first.words:
            continue
        if _RANGE_BETWEEN.fullmatch(text[first.end : second.start]):
            out[i] = replace(first, kind=second.kind, unit=second.unit, factor=second.factor)
    return out


def _bare(text: str, figures: list[_Figure]) -> list[_Figure]:
    """A number with nothing around it is an amount from 100 up, or after a money word; "24.11"
    and "10.30" without a currency are a date or a time."""
    out = []
    for figure in figures:
        if not figure.kind:
            if re.fullmatch(r"\d{1,2}\.\d{2}", text[figure.start : figure.end]) and not figure.money_context:
                figure = replace(figure, kind="date")
            elif figure.value >= 100 or (figure.money_context and not figure.words):
                figure = replace(figure, kind="amount")
            else:
                figure = replace(figure, kind="small")
        out.append(figure)
    return out


def stated_figures(text: str, *, all_numbers: bool = False) -> set[str]:
    """The figures `text` claims, each in its one spelling ("1 500 ₸" and "1,5 тыс" -> "1500",
    "10 %" -> "10%", "2 года" -> "24 мес.", "7000 евро" -> "7000 EUR"). Dates, times, phones,
    models, quantities and sizes are no figures (see the module's docstring).
    With `all_numbers` (the knowledge base's side), every number counts, in every reading:
    "19 л" states 19, "1.500" both 1500 and 1.5."""
    found: set[str] = set()
    for figure in _read(text):
        if all_numbers:
            found.update(figure.spellings(every_reading=True))
        elif figure.claim:
            found.update(figure.spellings())
    return found


def known_figures(knowledge: str) -> frozenset[str]:
    """Every figure the knowledge base states, in every reading (parse once, check many replies)."""
    return frozenset(stated_figures(knowledge, all_numbers=True))


def unsupported_figures(reply: str, knowledge: str | Iterable[str]) -> list[str]:
    """The figures the reply states that the knowledge base does not, each once, sorted.
    `knowledge` is its text, or its `known_figures` (with any figures a caller allows, in the
    same spelling: "25000", "15%", "30 мин."; `stated_figures` spells them). An amount in tenge
    also passes as arithmetic the reply shows on figures it may state (see the module's docstring)."""
    known = known_figures(knowledge) if isinstance(knowledge, str) else frozenset(knowledge)
    figures = _read(reply)
    claims = [f for f in figures if f.claim]
    if not claims:
        return []
    stated: list[Decimal] = []  # the reply's amounts in tenge that pass
    missing: list[_Figure] = []
    for figure in claims:
        if figure.spellings()[0] in known:
            if figure.kind == "amount" and not figure.unit:
                stated.append(figure.value)
        else:
            missing.append(figure)
    if not missing:
        return []
    # The arithmetic the reply shows: a quantity it states times a price it states, a price (or
    # that product) less a percentage it states, a total of its amounts.
    counts = {f.value for f in figures if f.kind == "count" and 0 < f.value <= 1000}
    discounts = {f.value for f in claims if f.kind == "percent" and f.spellings()[0] in known and f.value < 100}
    derived = set(stated) | {n * p for n in counts for p in stated}
    if discounts:
        listed = {Decimal(k) for k in known if re.fullmatch(r"\d+(?:\.\d+)?", k)}
        derived |= {x * (100 - d) / 100 for d in discounts for x in derived | listed}
    left = []
    for figure in missing:
        if figure.kind == "amount" and not figure.unit and figure.value in derived:
            stated.append(figure.value)
        else:
            left.append(figure)
    totals = set(_sums(stated[:8])) if left else set()
    return sorted({f.spellings()[0] for f in left if not (f.kind == "amount" and not f.unit and f.value in totals)})


def _sums(amounts: list[Decimal]) -> Iterator[Decimal]:
    """Every total of two or more of `amounts` (at most 8: 247 totals)."""
    for size in range(2, len(amounts) + 1):
        for group in combinations(amounts, size):
            yield sum(group, Decimal(0))
