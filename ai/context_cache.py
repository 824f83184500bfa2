"""Gemini explicit context caching of the sales assistant's stable prefix.

The stable prefix is what every sales request repeats: the system instruction (the sales
prompt with the whole knowledge base, when it is small enough) and the tool declarations. It
is put in a Gemini cache (`caches.create`) once it is above the model's minimum size; requests
then name the cache (`cached_content`) and send only the conversation: a cached request may
not also carry `system_instruction`, `tools` or `tool_config` (the API answers 400,
gemini.md §0.7, §6.2).

Lifecycle, all decided here:
- the cache is keyed by the sha256 of (model, system instruction, tools): a changed knowledge
  base, prompt or tool set is a new key, so a new cache, and the previous one is deleted at
  Gemini (storage is billed per token-hour);
- a cache close to its expiry is extended (`caches.update`, a new TTL) while it is in use, and
  one nobody used is left to expire;
- "too small" (400 from the server, authoritative) is remembered for the key, so no request
  pays for a second try; other failures fall back to uncached requests for a minute;
- creation is serialised by a lock per key across processes, so a burst of replies after a
  knowledge-base change creates one cache, not one per worker thread.

`ContextCache` rows are the record (the admin shows them); a small per-process memo saves the
database lookup on the hot path.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone
from google.genai import errors as genai_errors
from google.genai import types

from ai import sdk
from ai.llm import ToolSpec
from ai.models import ContextCache
from project.lib.locks import LockTimeout, cache_lock

log = structlog.get_logger(__name__)

# Extend a cache in use when less than this is left; never hand out one closer to its end.
REFRESH_MARGIN = timedelta(minutes=10)
# After an unexpected failure, requests go uncached for this long before trying again.
FAILURE_BACKOFF = timedelta(seconds=60)
# A conservative characters-per-token ratio for Russian text and JSON, used only to skip a
# create that would certainly be "too small"; the server's count is the real one.
CHARS_PER_TOKEN = 4
_TOO_SMALL = re.compile(r"too small.*?total_token_count=(\d+).*?min_total_token_count=(\d+)", re.I | re.S)


@dataclass(frozen=True)
class StablePrefix:
    """What a cache holds: the model it is for, the system instruction, the tools."""

    model: str
    system: str
    tools: tuple[ToolSpec, ...] = ()
    prompt_version: str = ""
    knowledge_chars: int = 0

    @property
    def key(self) -> str:
        payload = json.dumps(
            {
                "model": self.model,
                "system": self.system,
                "tools": [[t.name, t.description, t.parameters] for t in self.tools],
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def estimated_tokens(self) -> int:
        tools = json.dumps([[t.name, t.description, t.parameters] for t in self.tools], ensure_ascii=False)
        return (len(self.system) + len(tools)) // CHARS_PER_TOKEN


class _Memo:
    """key -> (cache name or "" for "do not cache", valid until). Per process, thread-safe."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, now: datetime) -> str | None:
        with self._lock:
            item = self._items.get(key)
        if item is None or item[1] <= now:
            return None
        return item[0]

    def put(self, key: str, name: str, until: datetime) -> None:
        with self._lock:
            self._items[key] = (name, until)

    def forget(self, *, key: str | None = None, name: str | None = None) -> None:
        with self._lock:
            for k, (n, _until) in list(self._items.items()):
                if k == key or (name and n == name):
                    del self._items[k]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_memo = _Memo()


def context_cache_for(prefix: StablePrefix, *, now: datetime | None = None) -> str | None:
    """The name of a live Gemini cache holding `prefix` ("cachedContents/..."), creating or
    extending it when needed; None when the request must go uncached (caching switched off,
    the prefix below the model's minimum, Gemini refused, another process is creating it).
    Never raises for a caching problem: an uncached request is always the fallback."""
    if not settings.GEMINI_CACHE_ENABLED:
        return None
    now = now or timezone.now()
    key = prefix.key
    remembered = _memo.get(key, now)
    if remembered is not None:
        return remembered or None
    if prefix.estimated_tokens() < settings.GEMINI_CACHE_MIN_TOKENS:
        _memo.put(key, "", now + timedelta(days=1))
        return None
    row = _usable(key, now)
    if row is not None:
        _memo.put(key, row.name, row.expire_at - REFRESH_MARGIN)
        return row.name
    if ContextCache.objects.filter(key=key, status=ContextCache.Status.TOO_SMALL).exists():
        _memo.put(key, "", now + timedelta(days=1))
        return None
    try:
        # wait=0 would send this request uncached while another thread creates the cache;
        # a short wait lets a burst share the first cache.
        with cache_lock(f"gemini-cache:{key}", ttl=60, wait=10):
            return _create_or_extend(prefix, key=key, now=timezone.now())
    except LockTimeout:
        log.info("context_cache.lock_busy", key=key[:12])
        return None


def context_cache_hit(name: str) -> None:
    """Counts one request that used cache `name` (for the admin and /stats)."""
    ContextCache.objects.filter(name=name).update(hits=F("hits") + 1)


def context_cache_lost(name: str, *, error: str = "") -> None:
    """Gemini no longer knows cache `name` (deleted, or expired early): the next request makes a
    new one."""
    ContextCache.objects.filter(name=name, status=ContextCache.Status.ACTIVE).update(
        status=ContextCache.Status.GONE, ended_at=timezone.now(), error=error[:2000]
    )
    _memo.forget(name=name)
    log.warning("context_cache.lost", name=name, error=error[:200])


def context_cache_expire(*, now: datetime | None = None) -> int:
    """Marks active rows whose expiry has passed as expired (Gemini dropped them by itself).
    Returns how many."""
    now = now or timezone.now()
    return ContextCache.objects.filter(status=ContextCache.Status.ACTIVE, expire_at__lte=now).update(
        status=ContextCache.Status.EXPIRED, ended_at=now
    )


def reset_memo() -> None:
    """Forgets this process's memo (tests, settings changes)."""
    _memo.clear()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **_kwargs: object) -> None:
    if setting.startswith("GEMINI_") or setting in ("LLM_BACKEND", "LLM_PRICES"):
        _memo.clear()


def _usable(key: str, now: datetime) -> ContextCache | None:
    return (
        ContextCache.objects.filter(key=key, status=ContextCache.Status.ACTIVE, expire_at__gt=now + REFRESH_MARGIN)
        .order_by("-expire_at")
        .first()
    )


def _create_or_extend(prefix: StablePrefix, *, key: str, now: datetime) -> str | None:
    row = _usable(key, now)  # another process may have made it while we waited for the lock
    if row is not None:
        _memo.put(key, row.name, row.expire_at - REFRESH_MARGIN)
        return row.name
    context_cache_expire(now=now)
    ttl = int(settings.GEMINI_CACHE_TTL_SECONDS)
    # Still alive but about to end: in use, so extend it rather than pay for a new one.
    ending = ContextCache.objects.filter(key=key, status=ContextCache.Status.ACTIVE, expire_at__gt=now).first()
    if ending is not None:
        try:
            sdk.get_client().caches.update(name=ending.name, config=types.UpdateCachedContentConfig(ttl=f"{ttl}s"))
        except (genai_errors.APIError, *sdk.TRANSPORT_ERRORS) as exc:
            context_cache_lost(ending.name, error=f"extend failed: {type(exc).__name__}: {exc}")
        else:
            ending.expire_at = now + timedelta(seconds=ttl)
            ending.save(update_fields=["expire_at"])
            _memo.put(key, ending.name, ending.expire_at - REFRESH_MARGIN)
            log.info("context_cache.extended", name=ending.name, ttl_s=ttl)
            return ending.name
    return _create(prefix, key=key, now=now, ttl=ttl)


def _create(prefix: StablePrefix, *, key: str, now: datetime, ttl: int) -> str | None:
    config = types.CreateCachedContentConfig(
        display_name=f"sales-{key[:12]}",
        system_instruction=prefix.system,
        ttl=f"{ttl}s",
    )
    if prefix.tools:
        config.tools, config.tool_config = sdk.tool_declarations(prefix.tools)
    started = time.monotonic()
    try:
        cache = sdk.get_client().caches.create(model=prefix.model, config=config)
    except genai_errors.APIError as exc:
        return _refused(prefix, key=key, now=now, exc=exc)
    except sdk.TRANSPORT_ERRORS as exc:
        log.warning("context_cache.create_failed", key=key[:12], error_type=type(exc).__name__)
        _memo.put(key, "", now + FAILURE_BACKOFF)
        return None
    if not cache.name:
        log.warning("context_cache.create_failed", key=key[:12], error="no name in the answer")
        _memo.put(key, "", now + FAILURE_BACKOFF)
        return None
    tokens = (cache.usage_metadata.total_token_count if cache.usage_metadata else None) or 0
    expire_at = cache.expire_time or now + timedelta(seconds=ttl)
    try:
        with transaction.atomic():
            # The previous caches of this model held an older knowledge base or prompt.
            superseded = list(
                ContextCache.objects.select_for_update()
                .filter(model=prefix.model, status=ContextCache.Status.ACTIVE)
                .exclude(key=key)
                .values_list("name", flat=True)
            )
            ContextCache.objects.filter(name__in=superseded).update(status=ContextCache.Status.REPLACED, ended_at=now)
            ContextCache.objects.create(
                key=key,
                model=prefix.model,
                name=cache.name,
                status=ContextCache.Status.ACTIVE,
                token_count=tokens,
                prompt_version=prefix.prompt_version,
                knowledge_chars=prefix.knowledge_chars,
                expire_at=expire_at,
            )
    except IntegrityError:
        # Cannot happen under the lock unless the lock expired; keep the database's row.
        _delete_remote(cache.name)
        return None
    _memo.put(key, cache.name, expire_at - REFRESH_MARGIN)
    for name in superseded:
        _memo.forget(name=name)
        _delete_remote(name)
    log.info(
        "context_cache.created",
        name=cache.name,
        model=prefix.model,
        tokens=tokens,
        ttl_s=ttl,
        replaced=len(superseded),
        latency_ms=int((time.monotonic() - started) * 1000),
    )
    return cache.name


def _refused(prefix: StablePrefix, *, key: str, now: datetime, exc: genai_errors.APIError) -> None:
    message = str(exc.message or exc)
    small = _TOO_SMALL.search(message)
    if exc.code == 400 and small:
        ContextCache.objects.create(
            key=key,
            model=prefix.model,
            status=ContextCache.Status.TOO_SMALL,
            token_count=int(small.group(1)),
            prompt_version=prefix.prompt_version,
            knowledge_chars=prefix.knowledge_chars,
            error=message[:2000],
            ended_at=now,
        )
        _memo.put(key, "", now + timedelta(days=1))
        log.info("context_cache.too_small", key=key[:12], tokens=int(small.group(1)), minimum=int(small.group(2)))
        return None
    ContextCache.objects.create(
        key=key,
        model=prefix.model,
        status=ContextCache.Status.FAILED,
        prompt_version=prefix.prompt_version,
        knowledge_chars=prefix.knowledge_chars,
        error=f"{exc.code} {exc.status or ''}: {message}"[:2000],
        ended_at=now,
    )
    _memo.put(key, "", now + FAILURE_BACKOFF)
    log.warning("context_cache.create_failed", key=key[:12], status_code=exc.code, error=message[:200])
    return None


def _delete_remote(name: str) -> None:
    try:
        sdk.get_client().caches.delete(name=name)
    except (genai_errors.APIError, *sdk.TRANSPORT_ERRORS) as exc:
        # It expires by itself at its TTL; only the storage until then is lost.
        log.info("context_cache.delete_failed", name=name, error_type=type(exc).__name__)


__all__ = (
    "StablePrefix",
    "context_cache_expire",
    "context_cache_for",
    "context_cache_hit",
    "context_cache_lost",
    "reset_memo",
)
