"""Shared by the benchmarks: a query counter, the printed report and the JSON record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.db import connection


class QueryCounter:
    """Counts every query (Django's query log stops at 9,000 entries)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> QueryCounter:
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")  # noqa: T201 - the benchmark's output
    for name, value in rows:
        print(f"   {name:<48} {value}")  # noqa: T201


def write_run(folder: Path, prefix: str, payload: dict) -> Path:
    """Writes one run as `<prefix>-<UTC time>.json` and `latest.json` in `folder`, with its
    finishing time; returns the file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps({"finished_at": stamp, **payload}, ensure_ascii=False, indent=2)
    path = folder / f"{prefix}-{stamp}.json"
    path.write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(text, encoding="utf-8")
    print(f"   written to {path.relative_to(folder.parents[1])}")  # noqa: T201
    return path


@dataclass(frozen=True)
class Metric:
    """One number for the summary table `make bench` prints at the end and writes to var/bench/."""

    metric: str
    value: float
    unit: str = ""
    target: float | None = None
    better: str = "lower"  # "lower" or "higher": which side of the target is good
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / target; below 1 is good for "lower", above 1 for "higher"."""
        if self.target in (None, 0):
            return None
        return self.value / self.target

    @property
    def meets(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target


RESULTS: list[Metric] = []

# Issue 17's "today": measured with `make bench` from a clean clone on the 2-core reference
# machine (fake Gemini answering in 1 s) before the model worker, the worker leases and the
# per-message work were changed. The summary prints them beside the new values.
TODAY: dict[str, float] = {
    "AI: time / 32-thread ideal (7 s), threads x32": 2.06,
    "AI: database queries per processed message": 29,
    "E2E: reply latency p50 (minus Gemini)": 78,
    "E2E: reply latency p95 (minus Gemini)": 102,
    "E2E: replies per second, Gemini 1 s": 5.2,
    "E2E: messages ingested per second": 124,
    "E2E: worker CPU per reply (all product processes)": 160,
}


def record(
    metric: str,
    value: float,
    unit: str = "",
    *,
    target: float | None = None,
    better: str = "lower",
    note: str = "",
) -> None:
    """Adds a row to the summary table (see tests/system/bench/conftest.py)."""
    if better not in ("lower", "higher"):
        raise ValueError("better must be 'lower' or 'higher'")
    RESULTS.append(Metric(metric, float(value), unit, target, better, note))
