"""Counters and histograms shared by every process, kept in the cache (Redis in production).

The work /metrics reports on happens mostly in Celery workers (Wappi calls, the model's tool
calls), while /metrics is answered by the web server: prometheus-client's in-process metrics
(and its multiprocess files, which are per host) would show a scrape only the web process's own
share. So the writers add to named tallies in the cache, and /metrics reads them at scrape time.

A series is a name plus labels (a small, bounded set: endpoints, tool names, outcomes; never a
phone number or a text). Counts are whole numbers; a histogram keeps, per series, how many
observations fell in each bucket, their count and their sum in milliseconds. Bookkeeping never
fails the work it counts: a cache error is logged and the count is lost. The tallies live until
the cache is emptied, as Prometheus counters may (a reset is read as one by rate()).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import structlog
from django.core.cache import cache

from project.lib.locks import LockTimeout, cache_lock

log = structlog.get_logger(__name__)

PREFIX = "tally"


def _labels_key(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _key(name: str, labels_key: str, part: str) -> str:
    return f"{PREFIX}:{name}:{labels_key}:{part}"


def _index_key(name: str) -> str:
    return f"{PREFIX}:{name}:series"


def _incr(key: str, amount: int) -> bool:
    """Adds `amount`; True when the key was new (the series may be new too)."""
    try:
        cache.incr(key, amount)
        return False
    except ValueError:  # not there yet
        if cache.add(key, amount, timeout=None):
            return True
        cache.incr(key, amount)  # another process created it meanwhile
        return False


def _remember(name: str, labels_key: str) -> None:
    index = _index_key(name)
    if labels_key in (cache.get(index) or ()):
        return
    try:
        with cache_lock(index, ttl=10, wait=5):
            known = set(cache.get(index) or ())
            known.add(labels_key)
            cache.set(index, sorted(known), timeout=None)
    except LockTimeout:
        log.warning("tally.index_busy", tally=name)


def tally_add(name: str, labels: dict[str, str], amount: int = 1) -> None:
    """Adds `amount` to the counter `name` with these labels."""
    labels_key = _labels_key(labels)
    try:
        if _incr(_key(name, labels_key, "value"), amount):
            _remember(name, labels_key)
    except Exception:
        log.warning("tally.lost", tally=name, exc_info=True)


def tally_observe(name: str, labels: dict[str, str], seconds: float, *, buckets: Sequence[float]) -> None:
    """Records one observation of the histogram `name`; read back as Prometheus's cumulative buckets."""
    labels_key = _labels_key(labels)
    try:
        new = _incr(_key(name, labels_key, "count"), 1)
        _incr(_key(name, labels_key, "sum_ms"), round(seconds * 1000))
        # Only the first bucket the value fits in (three writes per observation, not one per
        # bucket); reading sums them up into Prometheus's cumulative buckets.
        bound = next((bound for bound in buckets if seconds <= bound), None)
        if bound is not None:
            _incr(_key(name, labels_key, f"in:{bound}"), 1)
        if new:
            _remember(name, labels_key)
    except Exception:
        log.warning("tally.lost", tally=name, exc_info=True)


def _series(name: str) -> list[str]:
    return list(cache.get(_index_key(name)) or ())


def tally_counts(name: str) -> list[tuple[dict[str, str], int]]:
    """Every series of the counter `name`: (labels, value)."""
    series = _series(name)
    values = cache.get_many([_key(name, labels_key, "value") for labels_key in series])
    return [(json.loads(k), int(values.get(_key(name, k, "value")) or 0)) for k in series]


@dataclass(frozen=True)
class HistogramSeries:
    labels: dict[str, str]
    at_most: list[int]  # observations <= each bucket's bound, in the buckets' order
    count: int
    sum_seconds: float


def tally_histogram(name: str, *, buckets: Iterable[float]) -> list[HistogramSeries]:
    """Every series of the histogram `name`."""
    bounds = list(buckets)
    rows = []
    for labels_key in _series(name):
        parts = ["count", "sum_ms", *(f"in:{bound}" for bound in bounds)]
        values = cache.get_many([_key(name, labels_key, part) for part in parts])

        def value(part: str, labels_key: str = labels_key, values: dict = values) -> int:
            return int(values.get(_key(name, labels_key, part)) or 0)

        rows.append(
            HistogramSeries(
                labels=json.loads(labels_key),
                at_most=list(accumulate(value(f"in:{bound}") for bound in bounds)),
                count=value("count"),
                sum_seconds=value("sum_ms") / 1000,
            )
        )
    return rows
