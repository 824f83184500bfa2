"""The one door to Google Gemini: a long-lived `google-genai` client and typed errors.

Everything that talks to Gemini goes through :func:`generate`, which translates the SDK's
many failure shapes into three exception types that say whether a retry can help:

* :class:`LLMTransientError` - 408/429/5xx, timeouts, connection errors, a garbled body,
  *after* the SDK's own quick retries (``RETRY_OPTIONS``); a Celery task may retry later.
* :class:`LLMPermanentError` - other 4xx, a blocked or empty answer, an invalid request or
  configuration; the same call fails the same way.
* :class:`LLMUnavailableError` - no API key or ``LLM_BACKEND=offline``: no call is made.
* :class:`LLMBudgetExceededError` - the day's ``LLM_DAILY_BUDGET_USD`` is spent: no call is
  made (transient for callers: the next local day or a higher budget lets calls through).

Traps of google-genai 3.x this module handles (see /work/shared/reference/gemini.md):
no retries and no timeout by default (§0.2, §0.3: ``HttpOptions.timeout`` is in
milliseconds), a temporary ``genai.Client`` closes itself before its request goes out
(§0.9), timeouts/connection errors surface as raw ``httpx2`` exceptions and a non-JSON 200 as
``json.JSONDecodeError`` rather than ``APIError`` (§0.4), and environment variables such as
``GOOGLE_API_KEY`` / ``GOOGLE_GENAI_USE_VERTEXAI`` silently change the client (§1).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx2
import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from ai.llm import LLMError, LLMPermanentError, LLMTransientError, LLMUnavailableError, ToolSpec
from ai.usage import budget_guard
from project.lib.db import release_connection

if TYPE_CHECKING:
    from collections.abc import Sequence

log = structlog.get_logger(__name__)

# The SDK's own retry loop (tenacity) for blips: 408/429/500/502/503/504, httpx timeouts and
# connection errors (src `_api_client.py retry_args`). Without it the SDK makes exactly one
# attempt (gemini.md §0.2). Kept short on purpose: a Celery task owns the slow retries, and
# the worst case of one call is RETRY_OPTIONS.attempts x GEMINI_TIMEOUT plus ~3 s of backoff.
# The SDK ignores a 429's RetryInfo; LLMTransientError.retry_after carries it to the caller.
RETRY_OPTIONS = types.HttpRetryOptions(attempts=3, initial_delay=1.0, max_delay=8.0, exp_base=2.0, jitter=1.0)

# 408 and 429 are 4xx codes that a later attempt can pass (the SDK retries them as well).
_RETRYABLE_4XX = frozenset({408, 429})
# Finish reasons that mean "the model completed its answer". An absent finish reason is
# accepted too: every response field is optional on the wire (gemini.md §3).
_FINISHED = frozenset({types.FinishReason.STOP})

# The SDK's HTTP stack is httpx2 by default; GOOGLE_GENAI_HTTP_CLIENT=httpx switches to plain
# httpx, whose exception classes are unrelated to httpx2's (gemini.md §5, last bullet).
try:
    import httpx as _httpx
except ImportError:  # pragma: no cover - httpx is an optional extra of google-genai 3.x
    _httpx = None
_HTTP_MODULES = tuple(module for module in (httpx2, _httpx) if module is not None)
# Transport failures that retrying cannot fix: a base URL with a bad scheme, a redirect loop,
# a request the client itself refuses to send.
_BROKEN_TRANSPORT = tuple(
    cls
    for module in _HTTP_MODULES
    for cls in (module.UnsupportedProtocol, module.LocalProtocolError, module.TooManyRedirects, module.InvalidURL)
)
_TRANSPORT = tuple(module.RequestError for module in _HTTP_MODULES)
# What a network failure looks like to callers of other client methods (caches.*).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (*_TRANSPORT, *_BROKEN_TRANSPORT)
_DETAIL_MAX_CHARS = 300


# --- The client --------------------------------------------------------------------------------

_lock = threading.Lock()
_client: genai.Client | None = None


def get_client() -> genai.Client:
    """Returns this process's Gemini client, creating it on first use (thread-safe).

    One long-lived client per process: it owns the HTTP connection pool, and a temporary
    client closes that pool when it is garbage-collected, possibly before its request is
    sent (gemini.md §0.9). Construction makes no network call.

    Raises LLMUnavailableError when the backend is offline or no key is configured, and
    LLMPermanentError when the settings are unusable.
    """
    global _client
    _ensure_available()
    client = _client
    if client is not None:
        return client
    with _lock:
        if _client is None:
            _client = _build_client()
            log.info(
                "gemini.client_created",
                base_url=settings.GEMINI_BASE_URL or "default",
                timeout_s=settings.GEMINI_TIMEOUT,
                attempts=RETRY_OPTIONS.attempts,
            )
        return _client


def reset_client() -> None:
    """Closes and forgets the process's client; the next call builds one from the current
    settings. For tests and settings changes: a request in flight on another thread fails
    with the SDK's "client has been closed" RuntimeError."""
    global _client
    with _lock:
        client, _client = _client, None
    if client is not None:
        client.close()


def _ensure_available() -> None:
    if settings.LLM_BACKEND != "gemini":
        raise LLMUnavailableError(f"Gemini is switched off (LLM_BACKEND={settings.LLM_BACKEND})")
    if not settings.GEMINI_API_KEY:
        raise LLMUnavailableError("Gemini is not configured (GEMINI_API_KEY is empty)")


def _build_client() -> genai.Client:
    timeout_s = float(settings.GEMINI_TIMEOUT)
    if timeout_s <= 0:
        # `timeout=None` would mean "wait forever" (gemini.md §0.3), never what we want.
        raise LLMPermanentError(f"GEMINI_TIMEOUT must be a positive number of seconds, not {timeout_s}")
    http_options = types.HttpOptions(
        # None falls back to env GOOGLE_GEMINI_BASE_URL, then Google's endpoint (src `_base_url.py`).
        base_url=settings.GEMINI_BASE_URL or None,
        # HttpOptions.timeout is in MILLISECONDS (src types.py `HttpOptions.timeout`,
        # `_api_client.get_timeout_in_seconds`); it bounds each attempt, not the retry loop.
        timeout=max(1, round(timeout_s * 1000)),
        # A copy: the SDK's retry_args() mutates the options object it is given.
        retry_options=RETRY_OPTIONS.model_copy(),
    )
    try:
        # enterprise=False: env GOOGLE_GENAI_USE_VERTEXAI must not move us to Vertex AI. An explicit
        # api_key wins over env GOOGLE_API_KEY/GEMINI_API_KEY (src `_api_client.py`).
        return genai.Client(enterprise=False, api_key=settings.GEMINI_API_KEY, http_options=http_options)
    except ValueError as exc:  # includes pydantic's ValidationError
        raise LLMPermanentError(f"invalid Gemini client configuration: {type(exc).__name__}") from exc


def _forget_client_after_fork() -> None:
    # A prefork child must not share its parent's sockets (nor a lock another thread held at
    # fork time): it starts over and builds its own client on first use.
    global _client, _lock
    _client = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_client_after_fork)


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **_kwargs: Any) -> None:
    # pytest-django's `settings` fixture and override_settings send this signal.
    if setting.startswith("GEMINI_") or setting == "LLM_BACKEND":
        reset_client()


# --- Calls --------------------------------------------------------------------------------------


def generate(
    *,
    model: str,
    contents: types.ContentListUnionDict,
    config: types.GenerateContentConfigOrDict | None = None,
) -> types.GenerateContentResponse:
    """Calls ``models.generate_content`` on the process's client and returns the SDK response.

    Retries blips inside the SDK (``RETRY_OPTIONS``); whatever is left is raised as
    LLMTransientError / LLMPermanentError / LLMUnavailableError (the SDK or httpx2 exception
    is chained as ``__cause__``). The response itself is not judged here: use
    :func:`response_text` to reject blocked or unfinished answers. Logs one ``gemini.generate``
    (model, latency, tokens) or ``gemini.failed`` event; never the key, the prompt or the answer.

    The one budget check of every model request is here (ai.usage.budget_guard): past the
    day's LLM_DAILY_BUDGET_USD it raises LLMBudgetExceededError and no request is made.
    """
    client = get_client()
    budget_guard()
    # Seconds of waiting that need no database: on the model worker's pool, give the
    # connection back meanwhile (a no-op elsewhere).
    release_connection()
    started = time.monotonic()
    try:
        response = client.models.generate_content(model=model, contents=contents, config=config)
    except (genai_errors.APIError, *_TRANSPORT, *_BROKEN_TRANSPORT, ValueError) as exc:
        error = _translate(exc)
        log.warning(
            "gemini.failed",
            model=model,
            latency_ms=_ms_since(started),
            error_type=type(error).__name__,
            cause=type(exc).__name__,
            status_code=error.status_code,
            error=str(error),
        )
        raise error from exc
    _log_success(model=model, response=response, latency_ms=_ms_since(started))
    return response


def response_text(response: types.GenerateContentResponse, *, allow_truncated: bool = False) -> str:
    """Returns the answer's text (thought parts excluded; "" when the model said nothing).

    Raises LLMPermanentError when the prompt was blocked, there is no candidate, or the
    candidate ended for any reason other than STOP (SAFETY, RECITATION, PROHIBITED_CONTENT,
    MAX_TOKENS unless `allow_truncated`, ...). The SDK itself raises nothing for these: it
    returns ``text=None`` and ``parsed=None`` silently (gemini.md §0.5, §3).
    """
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise LLMPermanentError(f"Gemini blocked the prompt ({_enum_name(feedback.block_reason)})")
    if not response.candidates:
        raise LLMPermanentError("Gemini returned no candidates (empty response)")
    reason = response.candidates[0].finish_reason
    finished = reason is None or reason in _FINISHED
    if not finished and not (allow_truncated and reason == types.FinishReason.MAX_TOKENS):
        raise LLMPermanentError(f"Gemini stopped without finishing (finish_reason={_enum_name(reason)})")
    return response.text or ""


def usage_tokens(response: types.GenerateContentResponse) -> tuple[int | None, int | None]:
    """Returns ``(prompt_tokens, output_tokens)`` from ``usage_metadata``, None when absent.

    Output counts thinking tokens too: they are billed at the output rate (gemini.md §3).
    """
    usage = response.usage_metadata
    if usage is None:
        return None, None
    outputs = [n for n in (usage.candidates_token_count, usage.thoughts_token_count) if n is not None]
    return usage.prompt_token_count, (sum(outputs) if outputs else None)


def log_usage(response: types.GenerateContentResponse) -> dict[str, int | None]:
    """Token counts as one ``usage`` log field: ``{"prompt", "output", "cached"}``.

    Nested under ``usage`` on purpose: project.logging redacts every field whose *name*
    contains "token" (it takes ``prompt_tokens`` for a secret), but not keys of a nested dict
    that don't.
    """
    prompt_tokens, output_tokens = usage_tokens(response)
    metadata = response.usage_metadata
    return {
        "prompt": prompt_tokens,
        "output": output_tokens,
        "cached": metadata.cached_content_token_count if metadata else None,
    }


# --- Helpers --------------------------------------------------------------------------------------


def _translate(exc: Exception) -> LLMError:
    """Maps what ``generate_content`` raises (after the SDK's retries) to our error types."""
    if isinstance(exc, genai_errors.APIError):
        code = exc.code
        message = f"Gemini answered {code} {exc.status or ''}: {_clip(str(exc.message or ''))}"
        if isinstance(code, int) and 400 <= code < 500 and code not in _RETRYABLE_4XX:
            return LLMPermanentError(message, status_code=code)
        return LLMTransientError(message, status_code=code, retry_after=_retry_delay(exc.details))
    if isinstance(exc, _BROKEN_TRANSPORT):
        return LLMPermanentError(f"Gemini request cannot be sent: {type(exc).__name__}: {_clip(str(exc))}")
    if isinstance(exc, _TRANSPORT):
        # Timeouts and connection errors are not APIErrors (gemini.md §0.4).
        return LLMTransientError(f"Gemini transport error: {type(exc).__name__}: {_clip(str(exc))}")
    if isinstance(exc, (json.JSONDecodeError, genai_errors.UnknownApiResponseError)):
        # A 200 whose body is not JSON (a proxy's HTML page, a cut-off body): src models.py json.loads.
        return LLMTransientError(f"Gemini answered a body that is not JSON: {type(exc).__name__}")
    # Any other ValueError (pydantic's ValidationError included) is the SDK refusing the
    # request client-side: our bug or a bad setting, never fixed by retrying.
    return LLMPermanentError(f"invalid Gemini request: {type(exc).__name__}: {_clip(str(exc))}")


_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _retry_delay(details: Any) -> float | None:
    """Reads google.rpc.RetryInfo's ``retryDelay`` ("17s") from an error body, if present."""
    if not isinstance(details, dict):
        return None
    error = details.get("error", details)
    items = error.get("details") if isinstance(error, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _SECONDS.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _log_success(*, model: str, response: types.GenerateContentResponse, latency_ms: int) -> None:
    candidate = response.candidates[0] if response.candidates else None
    log.info(
        "gemini.generate",
        model=model,
        model_version=response.model_version,
        latency_ms=latency_ms,
        usage=log_usage(response),
        finish_reason=_enum_name(candidate.finish_reason) if candidate else None,
        response_id=response.response_id,
    )


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _clip(text: str) -> str:
    return text if len(text) <= _DETAIL_MAX_CHARS else text[:_DETAIL_MAX_CHARS] + "..."


def tool_declarations(specs: Sequence[ToolSpec]) -> tuple[list[types.Tool], types.ToolConfig]:
    """Our tools as one Tool of function declarations, calling mode AUTO (for a request or a cache)."""
    tool_config = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode=types.FunctionCallingConfigMode.AUTO)
    )
    return [types.Tool(function_declarations=[declaration(spec) for spec in specs])], tool_config


def declaration(spec: ToolSpec) -> types.FunctionDeclaration:
    # `parameters_json_schema` takes our JSON schema as it is (gemini.md §2.2); `parameters`
    # would need the OpenAPI-subset Schema with upper-case types.
    return types.FunctionDeclaration(
        name=spec.name, description=spec.description, parameters_json_schema=dict(spec.parameters)
    )
