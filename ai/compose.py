"""The compose step: every text the model writes for a customer passes here, and nowhere else.

generate -> clean -> number guard -> (one correction) -> the safe line.

A draft is cleaned (`ai.rules.cleanup.clean_reply`), then checked by the number guard: every
price, amount, discount or percentage it states must be one the knowledge base states, or one the
caller allows for this message (an invoice's amount, say). A draft that states others, or is empty,
is sent back ONCE with what was wrong; when the second draft fails too, the caller's safe line goes
out instead, or nothing at all when the caller has none (a follow-up touch is never a template).

The caller owns generation: `draft(correction)` asks its model, with its own prompt, and returns
the text. Model errors (`ai.llm.LLMError`) pass through untouched: each caller has its own answer
to an outage (a fallback message, a touch that waits, a standard text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from ai.knowledge import knowledge_figures
from ai.rules.cleanup import clean_reply
from ai.rules.guard import stated_figures, unsupported_figures

__all__ = ["Composed", "Correction", "Draft", "Result", "compose"]


class Result(StrEnum):
    CLEAN = "clean"  # the first draft goes out
    CORRECTED = "corrected"  # the second draft goes out
    SAFE_LINE = "safe_line"  # both drafts failed: the caller's safe line goes out
    UNUSABLE = "unusable"  # both drafts failed and the caller has no safe line: nothing goes out


@dataclass(frozen=True)
class Correction:
    """Why the draft before was rejected, for the one retry: the figures it made up (none when it
    was empty after cleaning) and the draft itself (cleaned)."""

    draft: str
    figures: tuple[str, ...]

    @property
    def figures_text(self) -> str:
        return ", ".join(self.figures)


@dataclass(frozen=True)
class Draft:
    """A draft that may carry its own safe line. `final_safe_text`: this draft cannot be
    rewritten (the assistant's last words after it handed the chat to a manager: asking again
    would run its tools again), so it is guarded once and, when it states a figure the knowledge
    base does not, this text goes out instead of the caller's safe line."""

    text: str
    final_safe_text: str | None = None
    # Figures this draft may state besides the knowledge base's and the caller's: what the
    # tools told the model while it wrote it (an invoice's total, a booked slot).
    allowed_figures: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Composed:
    """What goes out and how it came about, for the caller's log, metrics and review note.
    `text` is empty only for UNUSABLE. `figures` are the unsupported figures of the last rejected
    draft; `drafts` every draft the model wrote, cleaned, in order."""

    text: str
    result: Result
    figures: tuple[str, ...] = ()
    drafts: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return self.result != Result.UNUSABLE


def compose(
    *,
    draft: Callable[[Correction | None], str | Draft],
    safe_text: str | None,
    allowed_figures: Iterable[str] = (),
    correct: bool = True,
) -> Composed:
    """The customer-facing text for one message.

    `draft(None)` writes the first draft; `draft(Correction(...))` the second, told what was
    wrong. `safe_text` replaces a draft that fails twice (None: the result is UNUSABLE and the
    caller sends nothing). `allowed_figures` are figures this message may state besides the
    knowledge base's. `correct=False` skips the second draft: the first failure is final.

    Reads the knowledge base's figures (cached) only when a draft states a figure at all.
    Raises whatever `draft` raises (model errors included). No other side effects."""
    allowed = frozenset(allowed_figures)
    drafts: list[str] = []
    correction: Correction | None = None
    figures: tuple[str, ...] = ()
    for attempt in range(2 if correct else 1):
        written = draft(correction)
        if not isinstance(written, Draft):
            written = Draft(written)
        text = clean_reply(written.text)
        drafts.append(text)
        figures = _unsupported(text, allowed | written.allowed_figures) if text else ()
        if text and not figures:
            return Composed(text=text, result=_ok(attempt), drafts=tuple(drafts))
        if written.final_safe_text is not None:
            return Composed(
                text=written.final_safe_text, result=Result.SAFE_LINE, figures=figures, drafts=tuple(drafts)
            )
        correction = Correction(draft=text, figures=figures)
    if safe_text is None:
        return Composed(text="", result=Result.UNUSABLE, figures=figures, drafts=tuple(drafts))
    return Composed(text=safe_text, result=Result.SAFE_LINE, figures=figures, drafts=tuple(drafts))


def _ok(attempt: int) -> Result:
    return Result.CLEAN if attempt == 0 else Result.CORRECTED


def _unsupported(text: str, allowed: frozenset[str]) -> tuple[str, ...]:
    if not stated_figures(text):
        return ()  # nothing to check: the knowledge base is not even read
    return tuple(unsupported_figures(text, knowledge_figures() | allowed))
