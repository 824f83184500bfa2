"""`make bench`: after every benchmark has printed its own report, one summary table of the
recorded metrics (metric, value, target, ratio), also written as JSON to var/bench/."""

from __future__ import annotations

import platform

from tests.processes import ROOT
from tests.system.bench.util import RESULTS, TODAY, write_run

BENCH_DIR = ROOT / "var" / "bench"


def pytest_sessionfinish(session, exitstatus) -> None:
    if not RESULTS:
        return
    lines = [f"{'metric':<58} {'today':>8} {'value':>14} {'target':>12} {'ratio':>7}  ok"]
    for m in RESULTS:
        value = f"{m.value:,.3f}".rstrip("0").rstrip(".") + (f" {m.unit}" if m.unit else "")
        target = "" if m.target is None else ("≤ " if m.better == "lower" else "≥ ") + f"{m.target:g}"
        ratio = "" if m.ratio is None else f"{m.ratio:.2f}"
        ok = {True: "yes", False: "NO", None: ""}[m.meets]
        today = f"{TODAY[m.metric]:g}" if m.metric in TODAY else ""
        lines.append(f"{m.metric:<58} {today:>8} {value:>14} {target:>12} {ratio:>7}  {ok}")
    print("\n\n== make bench: summary\n" + "\n".join(lines))  # noqa: T201 - the benchmark's output
    payload = {
        "exit_status": int(exitstatus),
        "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
        "metrics": [
            {
                "metric": m.metric,
                "value": m.value,
                "unit": m.unit,
                "today": TODAY.get(m.metric),
                "target": m.target,
                "better": m.better,
                "ratio": m.ratio,
                "meets_target": m.meets,
                "note": m.note,
            }
            for m in RESULTS
        ],
    }
    write_run(BENCH_DIR, "bench", payload)


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
