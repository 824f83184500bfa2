"""The offline backend: deterministic Russian rules instead of a model, so the product works
without a Gemini key (`LLM_BACKEND=offline`, the default then, used by `make run` and the sandbox).

It is honest by construction: every sentence it sends comes from the templates below or is a
verbatim quote of a knowledge-base snippet, so it never states a price, a discount, a date or a
fact it was not given. Customer text is only ever matched against keywords, never obeyed, so a
prompt injection cannot change what it does. The `system` prompt is ignored for the same reason
(operators' prompt versions affect Gemini only).

The rules are pure functions of their inputs (`classify_rules`, `reply_decide`, `reply_compose`,
`follow_up_compose`); `OfflineBackend` wraps them and writes one `ai.ModelCall` row per call
(backend "offline", model "offline-rules", no tokens, zero cost).
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import structlog
from django.utils import timezone

from ai.knowledge import knowledge_prices, knowledge_search
from ai.llm import (
    CallContext,
    ContactCard,
    Generation,
    LLMPermanentError,
    ToolCall,
    ToolResult,
    ToolSpec,
    Turn,
    Verdict,
)
from ai.rules.dates import call_time_parse, slot_human, slot_parse
from ai.rules.intent import intent_rules
from ai.rules.language import RUSSIAN
from ai.rules.price_answer import price_line, rows_named
from ai.rules.texts import Key, fixed_text
from ai.usage import record_call

log = structlog.get_logger(__name__)
T = TypeVar("T")

MODEL = "offline-rules"
HANDOFF_TOOL = "handoff_to_manager"
KNOWLEDGE_LIMIT = 2
# A quote longer than this is cut at a sentence end: the reply stays a chat message.
SNIPPET_MAX_CHARS = 200
QUOTE_LIMIT = 1
REASON_QUOTE_CHARS = 100


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def normalize(text: str) -> str:
    """Lower case, "ё" as "е", single spaces: what every keyword rule matches against."""
    return re.sub(r"\s+", " ", (text or "").lower().replace("ё", "е")).strip()


# --- Signals ------------------------------------------------------------------------------------
# Keyword stems, not whole words: Russian inflects ("цена", "цены", "ценой"). `\b` before a stem
# keeps it from matching inside another word ("оценка" is not "цена").

PRICE = _rx(
    r"\bцен[аыуеоя]?\b|\bценник|\bстоимост|\bсколько\s+(?:стои|будет|выйдет)|\bпочем\b|\bпрайс|\bтариф|\bрасценк"
    r"|\bбағас|\bқанша\s+тұрады"
)
# Kazakh stems follow the Russian ones: "сатып алғым келеді" (I want to buy), "тапсырыс" (order),
# "жеткізу" / "жеткізесіз бе" (delivery), "жалға" / "жалдау" (rent).
BUY = _rx(r"\bкуп(?:ить|лю|им|ят|ил|ила|или)\b|\bпокупк|\bприобр[еи]|\bзаказ|\bсатып\s+ал|\bтапсырыс")
DELIVERY = _rx(r"\bдоставк|\bдостав(?:ите|ят|ляете)\b|\bсамовывоз|\bжеткіз|\bжеткиз")
PROPOSAL = _rx(r"\bкп\b|\bкоммерческ\w*\s+предложени")
PAPERWORK = _rx(r"\bдоговор|\bсчет(?:а|у|ом|ы|ов|е)?\b|\bоплат|\bпредоплат|\bрассрочк|\bkaspi\b|\bкаспи")
TERMS = _rx(r"\bуслови[еяй]")
DISCOUNT = _rx(r"\bскидк|\bdiscount")
GUARANTEE = _rx(r"\bгаранти")
DEADLINES = _rx(r"\bсрок")
AVAILABILITY = _rx(r"\bналичи|\bесть\s+ли\b|\bу\s+вас\s+есть\b|\bостатк")
PRODUCT = _rx(
    r"\bтовар|\bуслуг|\bпродукци|\bкаталог|\bассортимент|\bхарактеристик"
    r"|\bвы\s+(?:продаете|делаете|предоставляете|оказываете|устанавливаете)\b"
)
CLIENT_SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("вопрос о цене", PRICE),
    ("намерение купить или заказать", BUY),
    ("доставка", DELIVERY),
    ("запрос КП", PROPOSAL),
    ("договор, счёт или оплата", PAPERWORK),
    ("условия", TERMS),
    ("скидка", DISCOUNT),
    ("гарантия", GUARANTEE),
    ("сроки", DEADLINES),
    ("наличие", AVAILABILITY),
    ("вопрос о товарах или услугах", PRODUCT),
    ("закупки, бюджет или тендер", _rx(r"\bбюджет|\bтендер|\bзакуп|\bопт(?:ом|ов\w*)?\b")),
    ("сравнение с конкурентами", _rx(r"\bконкурент|\bаналог|\bу\s+других\b")),
    ("аренда", _rx(r"\bаренд|\bпрокат|\bжалға|\bжалда")),
    # An explicit wish to talk to the business's manager is business ("Давайте созвонимся").
    (
        "просит созвониться с менеджером",
        _rx(r"\bсозвон|\bменеджер\w*\b[^.?!]{0,40}\b(?:позвон|поговор|связ|сөйлес)|\bменеджермен"),
    ),
)
COMPLAINT = _rx(
    r"\bжалоб|\bпожалуюсь|\bнедовол|\bужасн|\bверн(?:ите|уть)\s+(?:мне\s+)?деньг|\bвозврат\w*\s+(?:денег|средств)"
    r"|\bобман|\bплох\w*\s+качеств|\bнекачествен|\bотвратительн|\bбезобрази|\bхамств|\bразочарова"
    # Kazakh: a complaint (шағым), "I am dissatisfied" (наразымын), "give my money back", "cheated",
    # "poor quality".
    r"|\bшағым|\bшагым|\bнаразы|\bақша\w*\s+қайтар|\bакша\w*\s+кайтар|\bалда(?:дыңыз|дыңдар|дыңыздар|ды|п)\b"
    r"|\bсапасы\w*\s+(?:нашар|төмен)|\bсапасыз"
)
SUPPORT = _rx(
    r"\bне\s+работает|\bсломал|\bсломан|\bпомогите\s+(?:настроить|разобраться)|\bнастро(?:ить|йк)"
    r"|\bпроблем\w*\s+с\s+заказ|\bне\s+(?:пришел|пришла|пришло|доставили|привезли|включается)\b|\bошибк"
)
SPAM_SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "заработок",
        _rx(
            r"\bзаработ|\bдоход\b|\bпассивн\w*\s+доход|\bинвестиц|\bкрипт|\bказино|\bставк\w*\s+на\s+спорт|\bбукмекер|\bбинарн"
        ),
    ),
    ("реклама", _rx(r"\bреклам")),
    ("продвижение", _rx(r"\bпродвижени|\bраскрутк|\bпродвин|\bподписчик|\bsmm\b|\bseo\b|\bнакрутк")),
    ("рассылки", _rx(r"\bрассылк|\bбаз\w*\s+номеров")),
)
# Someone offering their own services: what turns "реклама" from a question into an ad.
OFFERING = _rx(
    r"\bпредлага(?:ем|ю)\b|\bнаш\w*\s+услуг|\bобращайтесь\b|\bпишите\s+в\s+(?:директ|лс|личку)"
    r"|\bпо\s+ссылке\b|\bжми(?:те)?\b|\bбесплатн\w*\s+консультац|\bуспей"
)
LINK = _rx(
    r"https?://\S+|\bwww\.\S+|\b(?:t|wa)\.me/\S+"
    r"|\b[\w-]+\.(?:ru|kz|com|net|org|me|io|shop|site|online|info|biz)\b(?:/\S*)?"
)
WRONG_NUMBER = _rx(
    r"\bкто\s+(?:это|вы)\b|\bвы\s+кто\b|\bошиб\w*\s+номер|\bне\s+туда\s+попал|\bне\s+тот\s+номер"
    r"|\bоткуда\s+у\s+вас\s+мой\s+номер"
)
PERSONAL = _rx(
    r"\bкак\s+дела\b|\bкак\s+ты\b|\bчто\s+делаешь\b|\bче\s+делаешь\b|\bчем\s+занимаешься\b|\bкак\s+жизнь\b"
    r"|\bкак\s+сам\b|\bкак\s+поживаешь\b|\bскучаю\b|\bцелую\b|\bобнимаю\b|\b(?:пошли|пойдем)\s+гулять\b"
    r"|\bкогда\s+увидимся\b|\bзайм(?:и|ешь)\b|\bодолжи\b|\bскинь\s+денег"
)
GREETING_ONLY = _rx(
    r"^(?:(?:здравствуйте|здраствуйте|здравствуй|добрый\s+(?:день|вечер)|доброе\s+утро|привет\w*|салам\w*|салем\w*"
    r"|сәлем\w*|сәлеметсіз\s+бе|hello|hi|алло|ау|ассалау?м\w*)[\s!.,)]*)+$"
)
GREETING_START = _rx(
    r"^(?:здравствуйте|здраствуйте|добрый\s+(?:день|вечер)|доброе\s+утро|привет\w*|салам\w*|салем\w*|сәлем\w*"
    r"|сәлеметсіз|hello|hi)\b"
)
# Legal forms are matched case-sensitively in names: "ИП Ахметов" is a business, "ип" is noise.
LEGAL_FORM = re.compile(r"(?<!\w)(ТОО|ИП|ООО|АО|ЗАО|ОАО|ПАО|ЧП|ТДО|КХ|LLP|LLC|Ltd|Inc|GmbH)(?!\w)")
JOB_OR_COMPANY = _rx(
    r"\b(?:директор|менеджер|бухгалтер|снабжен|закупщик|закупк|руководител|маркетолог|юрист|прораб"
    r"|отдел|магазин|компания|склад|офис|ceo|cfo)"
)
# Pictographs and dingbats (✅ is U+2705): one count per symbol, not per code point of a sequence.
EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u203C\u2049]")


def emoji_count(text: str) -> int:
    """Emoji symbols in `text` (variation selectors and joiners are not counted)."""
    return len(EMOJI.findall(text or ""))


def customer_lines(history: Iterable[Turn]) -> list[str]:
    """The customer's messages, one per line: consecutive messages arrive joined by newlines in
    one user turn, and the moderator's "fewer than 3 messages" counts messages, not turns."""
    return [line.strip() for turn in history if turn.role == "user" for line in turn.text.splitlines() if line.strip()]


def _labels(text: str, signals: Sequence[tuple[str, re.Pattern[str]]]) -> list[str]:
    return [label for label, pattern in signals if pattern.search(text)]


def _is_links_only(line: str) -> bool:
    rest = LINK.sub(" ", line)
    return bool(LINK.search(line)) and not re.sub(r"[\W_]+", "", rest)


def name_signals(contact: ContactCard) -> list[str]:
    """What the contact's names say about a business: a company name, a legal form, a job."""
    signals: list[str] = []
    if contact.business_name.strip():
        signals.append(f"название компании в профиле («{contact.business_name.strip()[:60]}»)")
    for name in (contact.name, contact.full_name, contact.push_name):
        match = LEGAL_FORM.search(name or "")
        if match:
            signals.append(f"форма собственности {match.group(1)} в имени контакта («{name.strip()[:60]}»)")
            break
    else:
        for name in (contact.name, contact.full_name, contact.push_name):
            if JOB_OR_COMPANY.search(normalize(name)):
                signals.append(f"должность или компания в имени контакта («{name.strip()[:60]}»)")
                break
    return signals


def request_type_for(text: str) -> str:
    """One of REQUEST_TYPES for the customer's text: complaint > support > sales > general."""
    text = normalize(text)
    if COMPLAINT.search(text):
        return "complaint"
    if SUPPORT.search(text):
        return "support"
    if _labels(text, CLIENT_SIGNALS):
        return "sales"
    return "general"


def _confidence(signal_count: int, *, informal: bool) -> float:
    # One clear signal is a likely client (0.6); each further one adds certainty, up to 0.9.
    # Many emoji speak against a business conversation, so they cost a step.
    value = min(0.9, 0.5 + 0.1 * signal_count) - (0.1 if informal else 0.0)
    return round(max(0.5, value), 2)


def classify_rules(*, contact: ContactCard, history: Sequence[Turn]) -> Verdict:
    """The moderator's criteria (ai/prompts/moderator_prompt.txt) as keyword rules over the
    customer's messages and the contact's names. Pure: no database, no randomness."""
    lines = customer_lines(history)
    raw = "\n".join(lines)
    text = normalize(raw)
    names = name_signals(contact)
    request_type = request_type_for(text)

    client = _labels(text, CLIENT_SIGNALS)
    if request_type in ("complaint", "support"):
        # A complaint or a broken purchase comes from an existing client.
        client.insert(0, "жалоба" if request_type == "complaint" else "вопрос по купленному товару или заказу")
    spam = _labels(text, SPAM_SIGNALS)
    has_link = bool(LINK.search(raw))
    informal = emoji_count(raw) >= 3

    if spam and (not client or OFFERING.search(text) or has_link):
        found = ", ".join([*spam, *(["ссылка"] if has_link else [])])
        return Verdict(False, 0.85, f"Похоже на спам или рекламу сторонних услуг: {found}.", "general")
    if lines and all(_is_links_only(line) for line in lines) and not names:
        return Verdict(False, 0.7, "Только ссылки без вопроса: похоже на спам.", "general")

    non_client: list[str] = []
    if not client:
        if WRONG_NUMBER.search(text):
            non_client.append("сообщение вида «кто это?» или «ошиблись номером»")
        if PERSONAL.search(text):
            non_client.append("личный разговор")
        if informal:
            non_client.append("неформальный стиль с множеством эмодзи")
    if non_client and not names:
        return Verdict(False, 0.75, f"Не похоже на клиента: {', '.join(non_client)}.", "general")
    if non_client:
        return Verdict(
            None,
            0.4,
            f"Противоречивые признаки: {'; '.join(names)}, но {', '.join(non_client)}. Нужно больше информации.",
            "general",
        )

    signals = [*client, *names]
    if signals:
        style = " Стиль неформальный, много эмодзи." if informal else ""
        return Verdict(
            True,
            _confidence(len(signals), informal=informal),
            f"Признаки клиента: {'; '.join(signals)}.{style}",
            request_type,
        )

    if not lines:
        return Verdict(None, 0.2, "Сообщений клиента ещё нет: нужно больше информации.", "general")
    if all(GREETING_ONLY.match(normalize(line)) for line in lines):
        return Verdict(None, 0.3, "Только приветствие без контекста: нужно больше информации.", "general")
    if len(lines) < 3:
        return Verdict(None, 0.3, "Меньше 3 сообщений и нет явных признаков: нужно больше информации.", "general")
    return Verdict(None, 0.4, "Неопределённый характер общения: явных признаков клиента нет.", "general")


# --- Sales assistant ----------------------------------------------------------------------------

# An explicit request for a person, not a mention of one: "я менеджер по закупкам", "нужен
# специалист по монтажу?" and "интересует звонок-бот" are questions for the assistant.
HANDOFF_ASK = _rx(
    r"\b(?:позовите|позови|соедините|свяжите|переключите|дайте|хочу|можно)\b[^.?!]{0,30}?"
    r"\b(?:менеджер|оператор|человек|сотрудник|специалист)"
    r"|\bжив\w*\s+человек|\bреальн\w*\s+человек|\bс\s+человеком\b|\bпозвоните\s+мне|\bперезвоните"
    r"|\bсвяжитесь\s+со\s+мной|\bсвязаться\s+с\s+(?:менеджером|оператором)|\bнаберите\s+мне"
    # Kazakh: "call the manager" (менеджерді шақырыңыз), "I want to talk to a person / the manager"
    # (адаммен / менеджермен сөйлескім келеді), "a live person", "call me".
    r"|\b(?:менеджер|оператор|адам|маман|қызметкер)\w*\s+(?:шақыр|шакыр)"
    r"|\b(?:менеджер|оператор|адам|маман|қызметкер)(?:мен|ға|ге|қа|ке|га)\s+(?:сөйлес|сойлес|байланыс|қосыңыз|жалғаңыз)"
    r"|\bтірі\s+адам|\bнақты\s+адам|\bмаған\s+(?:хабарласыңыз|қоңырау\s+шалыңыз)"
)
CALL_ASK = _rx(
    r"\bсозвон|\bготов\w*\s+(?:к\s+)?(?:созвону|звонку|поговорить)|\bкогда\s+можно\s+(?:поговорить|позвонить)"
)
AFFIRMATIVE = _rx(r"^(?:да|давайте|хорошо|ок|окей|ok|можно|готов\w*|согласен|согласна|конечно|удобно|интересно)\b")
# Our own last sentence, a question offering a call or the manager, that a plain "да" accepts.
# Emoji end a sentence here too: "... подтвердит менеджер ✅ Расскажите ...?" offers nothing.
OFFER_IN_OUR_TEXT = _rx(r"(?:созвон|по\s+телефону|менеджер)[^?.!\u2600-\u27BF\U0001F300-\U0001FAFF]*\?\s*\W*$")
REFUSAL = _rx(r"\bне\s+интересн|\bне\s+надо\b|\bне\s+нужно\b|\bне\s+актуальн|\bне\s+пишите\b|\bнет,?\s+спасибо\b")
INJECTION = _rx(
    r"\bignore\b.*\binstructions?\b|\bигнорируй|\bзабудь\s+(?:все\s+|свои\s+)?(?:инструкци|правил|предыдущ)"
    r"|\bsystem\s+prompt|\bсистемн\w*\s+(?:промпт|инструкци)|\bты\s+теперь\b|\bdeveloper\s+mode"
)
THANKS = _rx(r"^(?:спасибо|благодарю|рахмет|спс|thanks?)\b")

# Topic of the newest customer text -> what we can honestly say about it. First match wins:
# a discount question inside a price question gets the discount answer, which promises nothing.
TOPICS: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = (
    ("discount", (DISCOUNT, _rx(r"\bакци|\bдешевле\b|\bуступ"))),
    ("price", (PRICE,)),
    ("proposal", (PROPOSAL, PAPERWORK)),
    ("delivery", (DELIVERY,)),
    ("availability", (AVAILABILITY,)),
    ("guarantee", (GUARANTEE,)),
    ("terms", (TERMS, DEADLINES)),
    ("order", (BUY,)),
    ("product", (PRODUCT,)),
)
ACKS: dict[str, tuple[str, ...]] = {
    "discount": ("Скидки я не могу обещать: их согласовывает только менеджер.",),
    "price": (
        "Чтобы не ошибиться с цифрами, точную стоимость Вам подтвердит менеджер.",
        "Стоимость зависит от задачи, и точную цену Вам подтвердит менеджер.",
    ),
    "proposal": ("Коммерческое предложение, договор и счёт готовит менеджер, он же подтвердит все условия.",),
    "delivery": ("Условия и сроки доставки Вам точно подтвердит менеджер.",),
    "availability": ("Наличие лучше уточнить у менеджера, чтобы не ввести Вас в заблуждение.",),
    "guarantee": ("Условия гарантии Вам подтвердит менеджер.",),
    "terms": ("Точные условия и сроки Вам подтвердит менеджер.",),
    "order": ("Спасибо, что выбрали нас! Детали заказа и точные условия Вам подтвердит менеджер.",),
    "product": ("Спасибо за вопрос! Детали по товарам и услугам подтвердит менеджер, чтобы не ошибиться.",),
    "injection": ("Я помогаю с вопросами о наших товарах и услугах.",),
    "greeting": ("Спасибо, что написали!",),
    "general": ("Спасибо за сообщение!", "Спасибо, что написали!"),
}
COMMERCIAL = frozenset({"discount", "price", "proposal", "delivery", "availability", "guarantee", "terms", "order"})
# ✅ marks "a manager will confirm"; a refused discount or small talk gets a smile instead.
EMOJI_FOR = {"price": "✅", "proposal": "✅", "delivery": "✅", "availability": "✅", "guarantee": "✅", "terms": "✅"}
# SPIN by stage (situation, problem, implication, need-payoff): how far the talk has gone.
SPIN: tuple[tuple[str, ...], ...] = (
    (
        "Расскажите, пожалуйста, для какой задачи Вы ищете решение?",
        "Подскажите, что Вы сейчас используете для этой задачи?",
    ),
    ("С какими сложностями Вы сейчас сталкиваетесь?", "Что Вас не устраивает в текущем решении?"),
    ("Как это сейчас влияет на Вашу работу?", "Насколько эта задача важна для Вашего бизнеса сейчас?"),
    (
        "Удобно ли Вам будет обсудить детали с менеджером по телефону?",
        "Если эта задача будет решена, что это даст Вашему бизнесу?",
    ),
)
WORKING_HOURS = "в будни с 10:00 до 18:00 по времени Астаны"


def commercial_topic(text: str) -> str:
    """The first TOPICS entry that `text` (normalized) is about, or ""."""
    return next((name for name, patterns in TOPICS if any(p.search(text) for p in patterns)), "")


def _pick(options: Sequence[str], key: str) -> str:
    # A stable hash (crc32, not the salted built-in hash) keeps replies the same across processes.
    return options[zlib.crc32(key.encode("utf-8")) % len(options)]


def _last_model_index(turns: Sequence[Turn]) -> int:
    # A model turn of tool calls only is a step inside this answer, not an answer the customer read.
    return max(
        (i for i, turn in enumerate(turns) if turn.role == "model" and (turn.text.strip() or not turn.tool_calls)),
        default=-1,
    )


def latest_customer_text(turns: Sequence[Turn]) -> str:
    """The customer's messages after our last turn: what this reply answers."""
    start = _last_model_index(turns) + 1
    return "\n".join(turn.text.strip() for turn in turns[start:] if turn.role == "user" and turn.text.strip())


def _previous_model_text(turns: Sequence[Turn]) -> str:
    for turn in reversed(turns[: _last_model_index(turns) + 1]):
        if turn.role == "model" and turn.text.strip():
            return turn.text.strip()
    return ""


def _reason(label: str, text: str) -> str:
    quote = " ".join(text.split())
    if len(quote) > REASON_QUOTE_CHARS:
        quote = quote[: REASON_QUOTE_CHARS - 1].rstrip() + "…"
    return f"{label}: «{quote}»" if quote else label


def _wants_call(*, text: str, turns: Sequence[Turn]) -> bool:
    if CALL_ASK.search(text):
        return True
    return bool(AFFIRMATIVE.match(text)) and bool(OFFER_IN_OUR_TEXT.search(normalize(_previous_model_text(turns))))


# The tools the assistant's agent loop runs (assistant/tools): the offline rules call them by
# name, with the arguments their specs ask for, exactly as the model's function calls do.
CHECK_TOOL = "check_availability"
BOOK_TOOL = "book_call"
INVOICE_TOOL = "create_payment_link"
# A wish to talk on the phone, Russian and Kazakh ("созвониться", "позвоните", "қоңырау шалыңыз",
# "сөйлескім келеді"): with a day or a time it is booked, without one the customer is asked when.
CALL_WORDS = _rx(
    r"\bсозвон|\bпозвон|\bперезвон|\bзвонок|\bзвонк|\bнаберите|\bпо\s+телефону"
    r"|\bқоңырау|\bхабарлас|\bсөйлес"
)
# "Выставьте счёт", "хочу купить", "беру": an explicit yes to buying (the tool's condition).
INVOICE_ASK = _rx(
    r"\bвыстав\w*\s+(?:мне\s+|нам\s+)?сче?т|\bсчет\s+(?:на|за)\b|\bхочу\s+(?:купить|заказать|оплатить|взять)"
    r"|\bберу\b|\bберем\b|\bоформ\w*\s+(?:заказ|покупк)"
)
PAID = _rx(r"\bоплатил\w*|\bоплачено\b|\bперевел\w*\s+(?:деньги|оплату)|\bтөледім")
QUANTITY = _rx(r"(?<![\d.,])(\d{1,3})(?![\d.,])(?!\s*(?:л|литр\w*|мл|кг)\b)")
PRICE_REPLY_MAX_CHARS = 300


def _human_slot(iso: str) -> str:
    try:
        return slot_human(datetime.fromisoformat(iso))
    except (TypeError, ValueError):
        return str(iso)


def _tool_call_before(turns: Sequence[Turn], name: str) -> ToolCall | None:
    """Our own call of `name` that the newest tool results answer."""
    if len(turns) < 2:
        return None
    return next((call for call in turns[-2].tool_calls if call.name == name), None)


def _offer(alternatives: Sequence[str], *, why: str) -> str:
    slots = [_human_slot(slot) for slot in alternatives[:3]]
    if not slots:
        return f"{why} Свободного времени в ближайшие дни нет, поэтому время с Вами согласует менеджер 🙏"
    others = f" Также свободно: {'; '.join(slots[1:])}." if len(slots) > 1 else ""
    return f"{why} Ближайшее свободное время: {slots[0]} (время Астаны).{others} Записать Вас на {slots[0]}?"


WHY_NOT = {
    "weekend": "В выходные менеджеры не созваниваются.",
    "public holiday": "Это праздничный день, менеджеры не работают.",
    "outside working hours": "Это время вне рабочих часов: мы на связи {hours}.",
    "slot full": "Это время уже занято.",
    "no free slots": "В этот день всё время уже занято.",
    "too soon": "На это время записать уже не успеем.",
    "in the past": "Это время уже прошло.",
    "too far ahead": "Так далеко вперёд мы не записываем.",
    "not on a slot boundary": "Созвоны начинаются в начале часа или получаса.",
}


def _why(error: str) -> str:
    return WHY_NOT.get(error, "На это время записать не получается.").replace("{hours}", WORKING_HOURS)


def _availability_step(turns: Sequence[Turn], result: ToolResult, topic: str, *, approximate: bool) -> Generation:
    """After check_availability: book the slot the customer named (or, for "после обеда", the
    first free one in that part of the day), else offer the nearest free slots."""
    call = _tool_call_before(turns, CHECK_TOOL)
    args = call.args if call else {}
    asked_time = str(args.get("time") or "")
    response = result.response
    free = [str(slot) for slot in response.get("free") or []]
    if response.get("ok") and free and asked_time and free[0][11:16] == asked_time[:5]:
        return Generation(tool_calls=(ToolCall(name=BOOK_TOOL, args={"start": free[0][:16], "topic": topic}),))
    alternatives = free or [str(slot) for slot in response.get("alternatives") or []]
    if approximate and asked_time:
        same_day = [s for s in alternatives if s[:10] == str(args.get("date")) and s[11:16] >= asked_time[:5]]
        if same_day:
            return Generation(tool_calls=(ToolCall(name=BOOK_TOOL, args={"start": same_day[0][:16], "topic": topic}),))
    if response.get("ok"):
        return Generation(text=_offer(free, why="Этот день свободен."))
    return Generation(text=_offer(alternatives, why=_why(str(response.get("error") or ""))))


def _booking_step(result: ToolResult, *, asked_prices: str = "") -> Generation:
    response = result.response
    if response.get("ok"):
        # The price rows the customer asked about in the same message ("А кулер в аренду есть?
        # Хочу созвониться..."), answered too.
        prefix = f"{asked_prices} " if asked_prices else ""
        return Generation(
            text=f"{prefix}Готово, созвон назначен ✅ Подтверждение с датой и временем пришло отдельным сообщением. "
            "Что Вы хотели бы обсудить с менеджером в первую очередь?"
        )
    if response.get("error") == "already booked":
        when = _human_slot(str(response.get("scheduled_at") or ""))
        return Generation(
            text=f"У Вас уже назначен созвон: {when} (время Астаны) 👍 Если нужно другое время, напишите, какое."
        )
    return Generation(text=_offer(response.get("alternatives") or [], why=_why(str(response.get("error") or ""))))


def _invoice_step(result: ToolResult) -> Generation:
    response = result.response
    status = response.get("status")
    what = f"{response.get('description', '')} — {response.get('amount', '')}".strip(" —")
    if status == "sent":
        text = (
            f"Выставил счёт Kaspi: {what} ✅ Он придёт в приложение Kaspi.kz на Ваш номер, оплатить можно "
            "в течение 24 часов. Напишите, пожалуйста, когда оплатите?"
        )
    elif status == "already_open":
        text = f"У Вас уже есть открытый счёт: {what}. Он ждёт оплаты в приложении Kaspi.kz 👍 Подсказать что-то ещё?"
    elif status == "awaiting_approval":
        text = "Счёт проверит менеджер и отправит его в Kaspi.kz ✅ Подсказать что-то ещё, пока он готовит счёт?"
    else:
        text = "Сейчас не получилось выставить счёт автоматически 🙏 Передать Ваш вопрос менеджеру?"
    return Generation(text=text)


def _tool_result_reply(turn: Turn) -> str:
    results = list(turn.tool_results)
    result = next((r for r in results if r.name == HANDOFF_TOOL), results[0])
    failed = "error" in result.response or result.response.get("status") == "error"
    if result.name == HANDOFF_TOOL:
        if failed:
            return (
                "К сожалению, сейчас не получилось передать Ваш вопрос менеджеру. "
                "Пожалуйста, напишите нам ещё раз чуть позже 😊"
            )
        return "Передал Ваш вопрос менеджеру — он скоро напишет Вам здесь 👍"
    if failed:
        return "К сожалению, сейчас это сделать не получилось. Хотите, я передам Ваш вопрос менеджеру?"
    return "Готово ✅ Подскажите, чем ещё я могу Вам помочь?"


def _handed_off(turns: Sequence[Turn]) -> bool:
    """The newest turn is handoff_to_manager's successful result."""
    results = [r for r in (turns[-1].tool_results if turns else ()) if r.name == HANDOFF_TOOL]
    return bool(results) and not any("error" in r.response or r.response.get("status") == "error" for r in results)


def _after_tools(turns: Sequence[Turn], topic: str, *, approximate: bool, asked_prices: str = "") -> Generation:
    results = {result.name: result for result in turns[-1].tool_results}
    if HANDOFF_TOOL not in results:
        if BOOK_TOOL in results:
            return _booking_step(results[BOOK_TOOL], asked_prices=asked_prices)
        if CHECK_TOOL in results:
            return _availability_step(turns, results[CHECK_TOOL], topic, approximate=approximate)
        if INVOICE_TOOL in results:
            return _invoice_step(results[INVOICE_TOOL])
    return Generation(text=_tool_result_reply(turns[-1]))


def _asked_for_a_call(previous: str) -> bool:
    """Our last message asked when to call, or offered a slot (not merely mentioned a call)."""
    previous = normalize(previous)
    return bool(re.search(r"удобно созвониться|записать вас на|какое время", previous)) and previous.rstrip(
        " 😊👍✅🙏"
    ).endswith("?")


def _call_args(text: str, *, turns: Sequence[Turn], today: date) -> dict[str, Any] | None:
    """check_availability's arguments for the day and time the customer named (a bare "да" to
    our offered slot names that slot); None when they named neither a day nor a time."""
    previous = _previous_model_text(turns)
    wanted = call_time_parse(text, today=today)
    offered = slot_parse(previous, today=today)
    if wanted is None and offered is not None and AFFIRMATIVE.match(text):
        wanted = offered
    if wanted is None:
        return None
    day = wanted.day or (offered.day if offered else None)
    if day is None:
        # A time alone ("давайте в 12"): today when still ahead is the booking rules' call; tomorrow otherwise.
        day = today + timedelta(days=1)
    args: dict[str, Any] = {"date": day.isoformat()}
    if wanted.at is not None:
        args["time"] = wanted.at.strftime("%H:%M")
    return args


def _offered(tools: Sequence[ToolSpec], name: str) -> bool:
    return any(tool.name == name for tool in tools)


def _invoice_call(text: str, prices: Sequence[Any]) -> ToolCall | None:
    named = rows_named(text, prices)
    if not named:
        return None
    row = named[0].row
    sizes = set(re.findall(r"\d+(?:[.,]\d+)?", row.item))
    quantities = [int(q) for q in QUANTITY.findall(text) if q not in sizes and 1 <= int(q) <= 100]
    quantity = quantities[0] if quantities else 1
    description = row.item if quantity == 1 else f"{row.item}, {quantity} шт."
    amount = row.amount * quantity
    return ToolCall(name=INVOICE_TOOL, args={"amount": float(amount), "description": description})


def reply_decide(
    *,
    turns: Sequence[Turn],
    tools: Sequence[ToolSpec],
    today: date | None = None,
    prices: Sequence[Any] = (),
) -> Generation | None:
    """The answers that are not composed text: the next step after a tool ran, or a tool call:
    handoff_to_manager for a complaint or an explicit request for a person; check_availability
    (then book_call) for a call at a named day and time; create_payment_link for "выставьте
    счёт" naming a price-list item, at its list price. None means: compose a reply
    (`reply_compose`). `today` is the business's local date (the call phrases are relative)."""
    raw = latest_customer_text(turns)
    text = normalize(raw)
    if turns and turns[-1].tool_results:
        wanted = call_time_parse(raw, today=today or date.min)
        approximate = bool(wanted and wanted.approximate)
        asked = price_line([named.row for named in rows_named(text, prices)][:2]) if prices else ""
        topic = _reason("Созвон", raw) if raw else "созвон с менеджером"
        return _after_tools(turns, topic, approximate=approximate, asked_prices=asked)
    if not text:
        return None
    handoff = _offered(tools, HANDOFF_TOOL)
    if request_type_for(text) == "complaint":
        if not handoff:
            return None
        return Generation(tool_calls=(ToolCall(name=HANDOFF_TOOL, args={"reason": _reason("Жалоба клиента", raw)}),))
    wants_call = bool(CALL_WORDS.search(text)) or _asked_for_a_call(_previous_model_text(turns))
    if wants_call and today is not None and _offered(tools, CHECK_TOOL):
        args = _call_args(text, turns=turns, today=today)
        if args is not None:
            return Generation(tool_calls=(ToolCall(name=CHECK_TOOL, args=args),))
    if handoff and HANDOFF_ASK.search(text) and not CALL_ASK.search(text):
        reason = _reason("Клиент просит связаться с менеджером", raw)
        return Generation(tool_calls=(ToolCall(name=HANDOFF_TOOL, args={"reason": reason}),))
    if INVOICE_ASK.search(text) and _offered(tools, INVOICE_TOOL):
        call = _invoice_call(text, prices)
        if call is not None:
            return Generation(tool_calls=(call,))
    return None


def _snippet_text(snippet: Any) -> str:
    if isinstance(snippet, str):
        text = snippet
    elif isinstance(snippet, dict):
        text = str(snippet.get("text") or snippet.get("content") or "")
    else:
        # A hit's excerpt is its best-matching line (the price row asked about, not the table).
        text = str(
            getattr(snippet, "excerpt", "") or getattr(snippet, "text", "") or getattr(snippet, "content", "") or ""
        )
    # Whitespace and markdown markers are layout, not content: the words stay verbatim.
    text = re.sub(r"\*\*|__|`+|^#+\s*", "", text, flags=re.MULTILINE)
    text = " ".join(text.split()).strip('«»"')
    if len(text) > SNIPPET_MAX_CHARS:
        cut = text[:SNIPPET_MAX_CHARS]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        text = cut[: end + 1] if end > 0 else cut.rsplit(" ", 1)[0] + "…"
    return text


def _topic(text: str, *, turns: Sequence[Turn]) -> str:
    if COMPLAINT.search(text):
        return "complaint"
    if SUPPORT.search(text):
        return "support"
    if _wants_call(text=text, turns=turns) or CALL_WORDS.search(text):
        return "call"
    if PAID.search(text):
        return "paid"
    topic = commercial_topic(text)
    if topic:
        return topic
    if HANDOFF_ASK.search(text):
        return "manager"
    if REFUSAL.search(text):
        return "refusal"
    if INJECTION.search(text):
        return "injection"
    if THANKS.match(text):
        return "thanks"
    if GREETING_ONLY.match(text):
        return "greeting"
    return "general"


def _with_emoji(sentence: str, emoji: str) -> str:
    # The emoji takes the place of the final full stop, as in the prompt's own examples.
    return f"{sentence[:-1]} {emoji}" if sentence.endswith(".") else f"{sentence} {emoji}"


def reply_compose(*, turns: Sequence[Turn], snippets: Sequence[Any] = (), prices: Sequence[Any] = ()) -> str:
    """The assistant's text for the newest customer messages: short Russian sentences on "Вы",
    the topic answered honestly: the price-list rows the customer names (item, price, unit, as
    the list states them), else a verbatim knowledge-base quote, else the manager will confirm;
    one SPIN question for the conversation's stage, one positive emoji."""
    raw = latest_customer_text(turns)
    text = normalize(raw)
    topic = _topic(text, turns=turns)
    earlier_answers = sum(1 for turn in turns if turn.role == "model" and turn.text.strip())
    greet = "Здравствуйте! " if earlier_answers == 0 and GREETING_START.match(text) else ""
    stage = min(earlier_answers, len(SPIN) - 1)

    if topic == "paid":
        return (
            "Спасибо! Проверяем оплату в Kaspi: как только она поступит, пришлём подтверждение здесь ✅ "
            "Подскажите, могу ли я ещё чем-то помочь?"
        )
    if topic not in NO_PRICE_TOPICS and prices:
        price_reply = _price_reply(text, prices=prices, greet=greet, topic=topic, stage=stage)
        if price_reply:
            return price_reply

    if topic == "complaint":
        # No cheerful emoji over a complaint.
        return (
            f"{greet}Мне очень жаль, что так получилось. Подробности помогут менеджеру быстрее разобраться в ситуации. "
            "Подскажите, пожалуйста, что именно у Вас произошло и когда?"
        )
    if topic == "support":
        return (
            f"{greet}Понимаю, это неприятно. Технические вопросы лучше всего решит наш специалист. "
            "Подскажите, пожалуйста, что именно у Вас не работает и с какого момента?"
        )
    if topic == "refusal":
        return "Понимаю Вас, спасибо за ответ! Если вопрос снова станет актуальным, пишите — будем рады помочь 😊"
    if topic == "call":
        return (
            f"{greet}Отлично 👍 Наши менеджеры на связи {WORKING_HOURS}. "
            "Подскажите, когда Вам будет удобно созвониться?"
        )
    if topic == "manager":
        return f"{greet}Менеджер сможет ответить Вам {WORKING_HOURS} ✅ Подскажите, пожалуйста, какой у Вас вопрос?"
    if topic == "thanks":
        return "Пожалуйста, рады помочь 😊 Остались ли у Вас ещё вопросы?"

    # A greeting or an attempt to steer the assistant is not a question the knowledge base answers.
    usable = snippets if topic not in ("greeting", "injection") else ()
    quotes = [q for q in (_snippet_text(s) for s in usable) if q][:QUOTE_LIMIT]
    if quotes:
        quoted = "; ".join(f"«{q}»" for q in quotes)
        parts = [f"По нашим материалам: {quoted}" + ("" if quotes[-1][-1] in ".!?…" else ".")]
        if topic == "discount":
            parts.append("Другие скидки я обещать не могу: их согласовывает только менеджер.")
        elif topic in COMMERCIAL:
            parts.append("Актуальные цены и условия для Вас подтвердит менеджер.")
    else:
        parts = [_pick(ACKS.get(topic, ACKS["general"]), text)]
        if topic == "greeting" and greet:
            greet = ""
            parts = ["Здравствуйте! " + parts[0]]
    parts[-1] = _with_emoji(parts[-1], EMOJI_FOR.get(topic, "😊"))

    if topic == "greeting" and stage == 0:
        question = "Подскажите, пожалуйста, что Вас интересует?"
    else:
        question = _pick(SPIN[stage], text)
    return f"{greet}{' '.join(parts)} {question}"


NO_PRICE_TOPICS = frozenset({"complaint", "support", "refusal", "injection", "thanks", "greeting", "discount", "paid"})
CALL_QUESTION = "Подскажите, когда Вам будет удобно созвониться?"


def _price_reply(text: str, *, prices: Sequence[Any], greet: str, topic: str, stage: int) -> str:
    """The rows the customer names, in one sentence, and one question: at most
    PRICE_REPLY_MAX_CHARS (rows are dropped from the end to fit); "" when no row is named."""
    rows = [named.row for named in rows_named(text, prices)]
    question = CALL_QUESTION if topic == "call" else _pick(SPIN[stage], text)
    while rows:
        reply = f"{greet}{_with_emoji(price_line(rows), '✅')} {question}"
        if len(reply) <= PRICE_REPLY_MAX_CHARS:
            return reply
        rows = rows[:-1]
    return ""


def converse_rules(
    *,
    turns: Sequence[Turn],
    tools: Sequence[ToolSpec],
    snippets: Sequence[Any] = (),
    prices: Sequence[Any] = (),
    today: date | None = None,
) -> Generation:
    """One step of the sales assistant: a tool call, the step after a tool ran, or composed text."""
    decided = reply_decide(turns=turns, tools=tools, today=today, prices=prices)
    return decided or Generation(text=reply_compose(turns=turns, snippets=snippets, prices=prices))


def knowledge_snippets(*, query: str, limit: int = KNOWLEDGE_LIMIT) -> list[Any]:
    """Knowledge-base passages for `query`, or [] when there are none: a failing lookup must
    not cost the customer an answer (the reply then simply quotes nothing)."""
    if not query.strip():
        return []
    try:
        return list(knowledge_search(query=query, limit=limit) or [])[:limit]
    except Exception:  # an answer without quotes beats no answer (logged with its traceback)
        log.exception("offline.knowledge_search_failed")
        return []


CONTEXT_DATE = re.compile(r"Текущая дата и время:\s*\w+,\s*(\d{2})\.(\d{2})\.(\d{4})")


def today_from(context: str) -> date:
    """The business's local date as the request's context states it for the model ("Текущая
    дата и время: четверг, 03.12.2026 14:35"); the local date now when it does not."""
    match = CONTEXT_DATE.search(context or "")
    if match:
        try:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            pass
    return timezone.localdate()


def price_list() -> list[Any]:
    """The knowledge base's price rows, or [] when there are none or the lookup fails (the reply
    then falls back to quotes or to "the manager will confirm")."""
    try:
        return list(knowledge_prices() or [])
    except Exception:  # an answer without the price list beats no answer (logged with its traceback)
        log.exception("offline.knowledge_prices_failed")
        return []


# --- Follow-ups ---------------------------------------------------------------------------------

FOLLOW_UP_TOPIC = {
    "discount": "об условиях",
    "price": "о стоимости",
    "proposal": "о коммерческом предложении",
    "delivery": "о доставке",
    "availability": "о наличии",
    "guarantee": "о гарантии",
    "terms": "об условиях",
    "product": "о наших товарах и услугах",
}
NEUTRAL_TEXT = "Здравствуйте! Если у Вас появятся вопросы, напишите, пожалуйста, — будем рады помочь 😊"
FOLLOW_UP_TEXTS: dict[int | None, Key] = {
    1: "follow_up_1",
    2: "follow_up_2",
    3: "follow_up_3",
    4: "follow_up_4",
    5: "follow_up_5",
}
TOUCH_IN_PROMPT = re.compile(r"КАСАНИЕ\s*#\s*([1-5])\s+из\s+5", re.IGNORECASE)


def touch_number_of(ctx: CallContext, *, system: str = "") -> int | None:
    """The follow-up touch, 1..5, from ctx.extra["touch_number"]; failing that, from the
    rendered follow-up prompt ("КАСАНИЕ #3 из 5"). None when this is not a follow-up."""
    value = ctx.extra.get("touch_number")
    if value is None and ctx.purpose == "follow_up":
        match = TOUCH_IN_PROMPT.search(system or "")
        value = match.group(1) if match else None
    try:
        touch = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return touch if touch is not None and 1 <= touch <= 5 else None


def follow_up_compose(*, touch_number: int | None, turns: Sequence[Turn]) -> str:
    """The follow-up strategy of ai/prompts/follow_up_prompt.txt, honestly: 1 reminder, 2 value,
    3 social proof without invented companies or figures, 4 a gentle last call without an
    invented offer, 5 a farewell that leaves the door open. Other touches: a neutral text."""
    lines = customer_lines(turns)
    last = normalize(lines[-1]) if lines else ""
    topic = commercial_topic(last)
    if touch_number == 1:
        about = f"о Вашем вопросе {FOLLOW_UP_TOPIC[topic]}" if topic else "о нашем разговоре"
        return f"Здравствуйте! Напоминаю {about} 😊 Остались ли у Вас вопросы, с которыми я могу помочь?"
    if touch_number == 2:
        return (
            "Здравствуйте! Мы можем подобрать вариант именно под Вашу задачу, а менеджер подтвердит точные цены "
            "и условия ✅ Рассказать подробнее?"
        )
    if touch_number == 3:
        return (
            "Здравствуйте! С похожими задачами к нам обращаются многие клиенты, и менеджер может рассказать, "
            "как мы обычно помогаем их решить 😊 Интересно обсудить Ваш случай?"
        )
    if touch_number == 4:
        return (
            "Здравствуйте! Не хочется, чтобы Ваш вопрос остался без ответа 👍 "
            "Если он ещё актуален, давайте обсудим: когда Вам удобно?"
        )
    if touch_number == 5:
        return (
            "Здравствуйте! Понимаю, что сейчас, возможно, не самое подходящее время. "
            "Если в будущем Вам понадобится помощь, пишите — всегда рады помочь 😊"
        )
    return NEUTRAL_TEXT


# --- The backend --------------------------------------------------------------------------------


def _record(*, ctx: CallContext, started: float, error: str = "") -> int:
    # Imported here so the rules above stay importable without the Django app registry.
    return record_call(backend=OfflineBackend.name, model=MODEL, ctx=ctx, started=started, error=error).id


def _recorded(*, ctx: CallContext, compute: Callable[[], T]) -> tuple[T, int]:
    """Runs one rule and writes its ModelCall row; returns the result and the row id. A rule
    that fails (a bug) is recorded as a failed call and raised as LLMPermanentError, as the
    contract says for unusable output."""
    started = time.monotonic()
    try:
        result = compute()
    except Exception as exc:
        log.exception("offline.rules_failed", purpose=ctx.purpose)
        _record(ctx=ctx, started=started, error=f"{type(exc).__name__}: {exc}")
        raise LLMPermanentError(f"offline rules failed: {type(exc).__name__}: {exc}") from exc
    return result, _record(ctx=ctx, started=started)


class OfflineBackend:
    """LLMBackend without a model: the rules above, one ModelCall row per call (backend
    "offline", model "offline-rules", no tokens, zero cost)."""

    name = "offline"

    def classify(self, *, system: str, contact: ContactCard, history: list[Turn], ctx: CallContext) -> Verdict:
        """Keyword classification (`classify_rules`); `system` is not read."""
        verdict, call_id = _recorded(ctx=ctx, compute=lambda: classify_rules(contact=contact, history=history))
        return replace(verdict, call_id=call_id)

    def converse(
        self, *, system: str, turns: list[Turn], tools: list[ToolSpec], ctx: CallContext, context: str = ""
    ) -> Generation:
        """A tool call, the next step after a tool ran, or a composed reply (the price rows the
        customer names, else one knowledge-base quote); `system` is not read, `context` only
        for today's date (call phrases such as "завтра" are relative to it). A customer who just
        sent a photo is asked to describe it in words (no model sees it), in ctx.extra["language"]."""

        def step() -> Generation:
            if turns and turns[-1].role == "user" and turns[-1].images:
                return Generation(text=fixed_text("photo_describe", str(ctx.extra.get("language") or RUSSIAN)))
            prices = price_list()
            decided = reply_decide(turns=turns, tools=tools, today=today_from(context), prices=prices)
            language = str(ctx.extra.get("language") or RUSSIAN)
            if decided is not None and language != RUSSIAN and _handed_off(turns):
                # The words after a hand-off are the fixed hand-off notice in the customer's language.
                return Generation(text=fixed_text("handoff", language))
            if decided is not None:
                return decided
            snippets = knowledge_snippets(query=latest_customer_text(turns))
            return Generation(text=reply_compose(turns=turns, snippets=snippets, prices=prices))

        generation, call_id = _recorded(ctx=ctx, compute=step)
        return replace(generation, model=MODEL, call_ids=(call_id,))

    def classify_intent(self, *, system: str, text: str, last_bot_text: str, ctx: CallContext) -> str:
        """Keyword rules (`ai.rules.intent.intent_rules`); `system` and `last_bot_text` are not read."""
        intent, _call_id = _recorded(ctx=ctx, compute=lambda: intent_rules(text))
        return intent

    def generate_text(self, *, system: str, turns: list[Turn], ctx: CallContext) -> Generation:
        """A follow-up for ctx.extra["touch_number"] (`follow_up_compose`), else a neutral text, in
        ctx.extra["language"]; `system` is read only for the touch number when ctx.extra lacks it."""

        def compose() -> str:
            touch = touch_number_of(ctx, system=system) if ctx.purpose == "follow_up" else None
            language = str(ctx.extra.get("language") or RUSSIAN)
            if language != RUSSIAN:  # the fixed touches of ai.rules.texts, in the customer's language
                return fixed_text(FOLLOW_UP_TEXTS.get(touch, "follow_up_neutral"), language)
            return follow_up_compose(touch_number=touch, turns=turns)

        text, call_id = _recorded(ctx=ctx, compute=compose)
        return Generation(text=text, model=MODEL, call_ids=(call_id,))
