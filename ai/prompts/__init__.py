"""Prompts: the text files in ai/prompts/, overridden by operators' versions in the admin.

:func:`prompt_get` answers the prompt in effect and its version (what ModelCall rows record);
:func:`prompt_render` fills in the company name and the placeholders the caller names,
nothing else (the moderator prompt's JSON example keeps its braces).
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from ai.models import PromptOverride

log = structlog.get_logger(__name__)

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
    else the file (version "file:<hash>"). One cache read (the overrides' version token); one
    database query only when an override was saved or deleted since this process last read
    `name`. Raises ValueError for a name that has no file in ai/prompts/ (every prompt must have
    a fallback)."""
    fallback = prompt_file(name)
    token = _overrides_token()
    with _lock:
        memo = _overrides.get(name)
    if token is not None and memo is not None and memo[0] == token:
        override = memo[1]
    else:
        row = (
            PromptOverride.objects.filter(name=name, is_active=True)
            .order_by("-created_at", "-pk")
            .only("pk", "text")
            .first()
        )
        override = (row.text, row.version) if row is not None else None
        if token is not None:
            with _lock:
                _overrides[name] = (token, override)
    if override is None:
        return fallback
    return PromptText(name=name, text=_normalise(override[0]), version=override[1])


# This process's copy of each prompt's override (text, version) or None, under the version token
# it was read with: a reply reads one cache key instead of querying the overrides every time.
_overrides: dict[str, tuple[str, tuple[str, str] | None]] = {}
_OVERRIDES_TOKEN_KEY = "ai:prompt-overrides:token"  # noqa: S105 - a cache key, not a secret


def _overrides_token() -> str | None:
    """The overrides' current version token, a new one when the cache lost it (so nothing read
    before counts); None when the cache cannot be reached (then the database is asked)."""
    try:
        token = cache.get(_OVERRIDES_TOKEN_KEY)
        if token is None:
            cache.add(_OVERRIDES_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(_OVERRIDES_TOKEN_KEY)
        return token
    except Exception:  # the cache is an optimisation here
        log.warning("prompts.token_unreadable", exc_info=True)
        return None


def prompt_overrides_changed() -> None:
    """An override was saved, deleted or deactivated: every process reads the overrides again.
    A new token now and another once the change commits (a process that read the old rows
    under the first one reads again under the second)."""

    def bump() -> None:
        try:
            cache.set(_OVERRIDES_TOKEN_KEY, uuid.uuid4().hex, timeout=None)
        except Exception:  # the next change or a cache flush renews it
            log.warning("prompts.token_not_renewed", exc_info=True)

    bump()
    transaction.on_commit(bump)


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
    deactivated = PromptOverride.objects.filter(name__in=set(names), is_active=True).update(is_active=False)
    prompt_overrides_changed()
    return deactivated


def _path(name: str) -> Path:
    if not _NAME.fullmatch(name or ""):
        raise ValueError(f"unknown prompt {name!r}; known: {', '.join(prompt_names())}")
    return PROMPTS_DIR / f"{name}.txt"


def _normalise(text: str) -> str:
    # The admin's textarea sends CRLF; a stray trailing newline must not change the version.
    return text.replace("\r\n", "\n").strip()
