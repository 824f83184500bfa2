"""Prompts: the text files in ai/prompts/, overridden by operators' versions in the admin.

:func:`prompt_get` answers the prompt in effect and its version (what ModelCall rows record);
:func:`prompt_render` fills in the company name and the placeholders the caller names,
nothing else (the moderator prompt's JSON example keeps its braces).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ai.models import PromptOverride

PROMPTS_DIR = Path(__file__).resolve().parent
COMPANY_PLACEHOLDER = "[НАЗВАНИЕ КОМПАНИИ]"
# `{name}` placeholders the code fills in: ASCII identifiers only, so that `{дата}` (an example
# for the model) or a JSON example is never mistaken for one.
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class PromptText:
    """A prompt's text and its version: "db:<id>" for an operator's version, "file:<8 hex of
    sha256>" for the file, so a ModelCall row says exactly which text was used."""

    name: str
    text: str
    version: str


_lock = threading.Lock()
_files: dict[str, tuple[int, PromptText]] = {}  # name -> (mtime_ns, prompt)


def prompt_names() -> list[str]:
    """Names of the prompts that exist as files (the only names prompt_get accepts)."""
    return sorted(path.stem for path in PROMPTS_DIR.glob("*.txt"))


def prompt_file(name: str) -> PromptText:
    """The prompt as shipped in ai/prompts/<name>.txt. Read once per process and again
    only when the file's mtime changes. Raises ValueError for an unknown name."""
    path = _path(name)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise ValueError(f"unknown prompt {name!r}; known: {', '.join(prompt_names())}") from None
    with _lock:
        cached = _files.get(name)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    text = _normalise(path.read_text(encoding="utf-8"))
    prompt = PromptText(name=name, text=text, version=f"file:{hashlib.sha256(text.encode()).hexdigest()[:8]}")
    with _lock:
        _files[name] = (mtime, prompt)
    return prompt


def prompt_get(name: str) -> PromptText:
    """The prompt in effect: the newest active PromptOverride for `name` (version "db:<id>"),
    else the file (version "file:<hash>"). One database query. Raises ValueError for a name
    that has no file in ai/prompts/ (every prompt must have a fallback)."""
    fallback = prompt_file(name)
    override = (
        PromptOverride.objects.filter(name=name, is_active=True)
        .order_by("-created_at", "-pk")
        .only("pk", "text")
        .first()
    )
    if override is None:
        return fallback
    return PromptText(name=name, text=_normalise(override.text), version=override.version)


def prompt_render(prompt: PromptText, **values: str) -> str:
    """The prompt's text with ``[НАЗВАНИЕ КОМПАНИИ]`` replaced by settings.COMPANY_NAME and
    each ``{key}`` whose key is given in `values` replaced by its value. Any other brace
    (JSON examples, ``{дата}``, placeholders not given) stays as it is. One pass: a value
    that itself contains ``{key}`` or the company marker is inserted literally."""
    wanted = {key: str(value) for key, value in values.items()}
    alternatives = [re.escape(COMPANY_PLACEHOLDER)]
    if wanted:
        alternatives.append(r"\{(" + "|".join(re.escape(key) for key in wanted) + r")\}")
    pattern = re.compile("|".join(alternatives))

    def fill(match: re.Match[str]) -> str:
        key = match.group(1) if wanted else None
        return wanted[key] if key is not None else settings.COMPANY_NAME

    return pattern.sub(fill, prompt.text)


def prompt_placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders in a text (ASCII names only, see PLACEHOLDER)."""
    return set(PLACEHOLDER.findall(text))


def prompt_reset_to_file(*, names: Iterable[str]) -> int:
    """Deactivates every active override of the given prompts, so the files are in effect
    again; the rows stay as history. Returns the number of rows deactivated."""
    return PromptOverride.objects.filter(name__in=set(names), is_active=True).update(is_active=False)


def _path(name: str) -> Path:
    if not _NAME.fullmatch(name or ""):
        raise ValueError(f"unknown prompt {name!r}; known: {', '.join(prompt_names())}")
    return PROMPTS_DIR / f"{name}.txt"


def _normalise(text: str) -> str:
    # The admin's textarea sends CRLF; a stray trailing newline must not change the version.
    return text.replace("\r\n", "\n").strip()
