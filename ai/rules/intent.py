"""Keyword rules for the intent of a client's reply (the offline backend's answer and the
fallback when the model is unavailable): a clear "yes", a clear "no", an uncertain answer
("посмотрю", "подумаю"), or anything else."""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["yes", "no", "uncertain", "other"]
INTENTS: tuple[Intent, ...] = ("yes", "no", "uncertain", "other")
# A clear answer is short: "да, а сколько стоит доставка?" is a question, not a closed yes.
CLEAR_MAX_WORDS = 6

_UNCERTAIN = re.compile(
    r"\b(посмотр(ю|им)|подума(ю|ем|ть)|обдума|может быть|может и|возможно|не знаю|пока не знаю|не уверен|"
    r"позже|потом|не сейчас|пока не (готов|надо|нужно)|на днях|решу|посоветуюсь|сообщу)\w*"
    # Kazakh: "кейін жазамын" (I'll write later), "ойланамын" (I'll think), "білмеймін" (I don't know)...
    r"|\b(кейін|кейин|ойлан|ойлаң|қарайын|қараймын|көрейін|көремін|білмеймін|білмедім|әзірге|азірге|"
    r"кеңесіп|хабарласамын|шешемін)\w*",
)
_NO = re.compile(
    r"^(нет|не-а|неа|no|жоқ|жок)\b|\b(не интересно|неинтересно|не надо|не нужно|не актуально|неактуально|откаж|"
    r"отказыва|уже купил|уже нашли|не хочу|не будем|не подходит|"
    # Kazakh: "қызық емес" (not interesting), "керек емес" (not needed), "алмаймын" (I won't take it)...
    r"қызық емес|қызықты емес|кызык емес|керек емес|кажет емес|қажет емес|қызықпаймын|"
    r"алмаймын|сатып алдым|келмейді|ұнамады)\w*",
)
_YES = re.compile(
    r"^(да|ага|угу|ок|окей|ok|okay|yes|конечно|хорошо|отлично|договорились|согласе?н\w*|готов\w*|"
    r"давай\w*|беру|берем|хочу|подходит|записывайте|оформляйте|супер|"
    # Kazakh: "иә" (yes), "жарайды" (all right), "келістік" (agreed), "аламын" (I'll take it)...
    r"иә|ия|иа|әрине|жарайды|жақсы|келістік|келісемін|аламын|алайын|болады)\b",
)


def _normalise(text: str) -> str:
    text = (text or "").lower().replace("ё", "е")
    text = re.sub(r"[^\w\s?-]", " ", text)  # emoji and punctuation out, the question mark kept
    return re.sub(r"\s+", " ", text).strip()


def intent_rules(text: str) -> Intent:
    """Keyword rules, Russian and Kazakh as people write them in chats. Uncertainty wins over "no" ("не знаю"
    is not a refusal); a question or a long message is "other"."""
    words = _normalise(text)
    if not words:
        return "other"
    if _UNCERTAIN.search(words):
        return "uncertain"
    if "?" in words or len(words.split()) > CLEAR_MAX_WORDS:
        return "other"
    if _NO.search(words):
        return "no"
    if _YES.search(words):
        return "yes"
    return "other"
