"""The model layer's contract: one backend interface, two implementations.

`GeminiBackend` (ai/backends/gemini.py) talks to Gemini through google-genai; `OfflineBackend`
(ai/backends/offline.py) is deterministic and rule-based, so the product runs without a key.
`LLM_BACKEND` picks one (default: gemini when GEMINI_API_KEY is set).

Every call a backend makes to a model is recorded as an `ai.ModelCall` row (purpose, model,
tokens, latency, outcome, contact, prompt version, cost). Customer text only ever travels in
`Turn`s (conversation content), never inside the system instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "CallContext",
    "ContactCard",
    "Generation",
    "Image",
    "LLMBackend",
    "LLMBudgetExceededError",
    "LLMError",
    "LLMPermanentError",
    "LLMTransientError",
    "LLMUnavailableError",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Turn",
    "Verdict",
]

Purpose = Literal["classify", "reply", "follow_up", "intent", "transcribe", "post_purchase", "handoff"]
REQUEST_TYPES = ("sales", "support", "complaint", "general")


class LLMError(Exception):
    """A Gemini call failed. `retryable` says whether the same call can succeed later.

    `status_code` is the HTTP status when the server answered one, else None.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code

    def __reduce__(self) -> tuple[Callable[..., LLMError], tuple[Any, ...], dict[str, Any]]:
        # Keyword-only attributes would be lost by Exception's default pickling (Celery
        # serialises exceptions when it records a failure or a retry).
        return (type(self), (str(self),), self.__dict__)


class LLMTransientError(LLMError):
    """Come back later: 408/429/5xx, timeouts, connection errors, a garbled body (after the
    SDK's own retries). `retry_after` is the server's RetryInfo delay in seconds, when sent."""

    retryable = True

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class LLMPermanentError(LLMError):
    """The same call will fail the same way: 4xx other than 408/429, a blocked or empty
    answer, an invalid request or configuration."""


class LLMUnavailableError(LLMPermanentError):
    """No call can be made at all: ``LLM_BACKEND=offline`` or no ``GEMINI_API_KEY``."""


class LLMBudgetExceededError(LLMTransientError, LLMUnavailableError):
    """The day's model budget (``LLM_DAILY_BUDGET_USD``) is spent: no request was made and
    none will be until the next local day (or a higher budget). Transient for its callers
    (the customer gets the fallback and the answer is retried later, like an outage) and
    "unavailable" for the bookkeeping (no request, so no ModelCall row)."""


@dataclass(frozen=True)
class ToolCall:
    """The model asks us to run a tool."""

    name: str
    args: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What our tool returned, sent back to the model."""

    name: str
    response: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class Image:
    """A picture the customer sent, as the model gets it: its bytes and type, or, when it cannot
    be shown (too large, not a picture, the download failed, no model to look at it), no bytes
    and a `note` saying why."""

    mime_type: str = ""
    data: bytes = field(default=b"", repr=False)
    note: str = ""

    @property
    def shown(self) -> bool:
        return bool(self.data)


@dataclass(frozen=True)
class Turn:
    """One turn of the conversation as the model sees it. `user` turns are the customer's
    messages (or our tool results); `model` turns are the assistant's earlier answers (or its
    tool calls). Several consecutive customer messages may be joined into one user turn."""

    role: Literal["user", "model"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    # The customer's pictures in this turn (user turns only), in the order they were sent.
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call. `parameters` is a JSON schema object
    ({"type": "object", "properties": {...}, "required": [...]})."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ContactCard:
    """What the moderator knows of a contact besides the conversation."""

    name: str = ""
    full_name: str = ""
    push_name: str = ""
    business_name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class CallContext:
    """Bookkeeping for the ModelCall row every model call writes."""

    purpose: Purpose
    contact_id: int | None = None
    prompt_name: str = ""
    prompt_version: str = ""
    # Purpose-specific facts a backend may use (follow-ups: {"touch_number": 1..5}).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The moderator's answer: the spec's {isClient, confidence, reasoning} plus request_type."""

    is_client: bool | None
    confidence: float | None
    reasoning: str
    request_type: str | None = None  # one of REQUEST_TYPES
    call_id: int | None = None  # the ModelCall row of this verdict


@dataclass(frozen=True)
class Generation:
    """A model's answer: text, or tool calls to run before it can answer."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    model: str = ""
    call_ids: tuple[int, ...] = field(default_factory=tuple)  # ModelCall rows written


class LLMBackend(Protocol):
    name: str  # "gemini" or "offline"

    def classify(self, *, system: str, contact: ContactCard, history: list[Turn], ctx: CallContext) -> Verdict:
        """Fast model, structured output. Raises LLMPermanentError when the output is missing
        or invalid (the caller leaves is_client unknown), LLMTransientError when the model is
        unavailable after retries."""
        ...

    def converse(
        self, *, system: str, turns: list[Turn], tools: list[ToolSpec], ctx: CallContext, context: str = ""
    ) -> Generation:
        """Main model, one step: returns final text or tool calls (never both acted on; the
        caller runs the tools, appends a model turn with the calls and a user turn with the
        results, and calls again, a bounded number of times). No automatic function calling.

        `system` and `tools` must be the same from request to request (the stable prefix a
        backend may cache); what changes per request (the time, the client's number, retrieved
        knowledge, a correction after a rejected draft) goes in `context`."""
        ...

    def generate_text(self, *, system: str, turns: list[Turn], ctx: CallContext) -> Generation:
        """Main model, plain text (follow-ups)."""
        ...

    def classify_intent(self, *, system: str, text: str, last_bot_text: str, ctx: CallContext) -> str:
        """Fast model, structured output: "yes", "no", "uncertain" or "other" for the client's
        `text` after our `last_bot_text`. Raises LLMPermanentError for an invalid answer,
        LLMTransientError when the model is unavailable (callers fall back to rules)."""
        ...
