"""Reply cleanup: what the model wrote, reduced to the message a customer should read."""

from __future__ import annotations

import re

MAX_REPLY_CHARS = 900

_MARKDOWN = [
    (re.compile(r"\*\*(.+?)\*\*", re.S), r"\1"),
    (re.compile(r"__(.+?)__", re.S), r"\1"),
    (re.compile(r"(?<!\w)\*(?!\s)(.+?)(?<!\s)\*(?!\w)", re.S), r"\1"),
    (re.compile(r"`{1,3}([^`]*)`{1,3}"), r"\1"),
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),
    (re.compile(r"\[([^\]]+)\]\((https?://[^)]+)\)"), r"\1: \2"),
]
_META = re.compile(r"^\s*(ответ|ответ клиенту|сообщение|assistant|ассистент)\s*:\s*", re.I)


def clean_reply(text: str) -> str:
    """The message text only: no markdown, no "Ответ:" prefix, no surrounding quotes, no
    notes to ourselves in brackets, at most MAX_REPLY_CHARS (cut at a sentence)."""
    text = (text or "").strip()
    for pattern, repl in _MARKDOWN:
        text = pattern.sub(repl, text)
    text = _META.sub("", text).strip()
    if len(text) >= 2 and text[0] in '"«' and text[-1] in '"»':
        text = text[1:-1].strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > MAX_REPLY_CHARS:
        cut = text[:MAX_REPLY_CHARS]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
        text = (cut[: end + 1] if end > MAX_REPLY_CHARS // 2 else cut).strip()
    return text
