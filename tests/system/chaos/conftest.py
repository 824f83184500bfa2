"""Chaos cases (`make chaos`, or CHAOS=1): faults injected into a private deployment of the
product (tests.system.loadlab); each case prints survived / lost / duplicated."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.processes import ROOT
from tests.system.bench.util import write_run
from tests.system.loadlab.collect import outcome
from tests.system.loadlab.fakes import REPLY_TEXT
from tests.system.loadlab.lab import Infra, Lab, lab

# How long a "minute" of outage lasts; CHAOS_FAULT_SECONDS=15 for quick runs.
FAULT_SECONDS = float(os.environ.get("CHAOS_FAULT_SECONDS", "60"))
# Short periodic intervals, so recovery shows within a test run (applied by `migrate`).
CHAOS_ENV = {
    "HEARTBEAT_INTERVAL": "2",
    "POLLING_INTERVAL": "5",
    "OUTBOX_SWEEP_INTERVAL": "10",
    "AI_RETRY_INTERVAL": "10",
    "REPLY_DEBOUNCE_SECONDS": "1",
    "SEND_MIN_GAP_SECONDS": "0",
    "SEND_GAP_JITTER_SECONDS": "0",
    "SEND_MAX_PER_MINUTE": "100000",
    "SEND_NUMBER_GAP_SECONDS": "0",
    "SEND_MAX_PER_HOUR": "1000000",
    "SEND_MAX_PER_DAY": "1000000",
    "WAPPI_TIMEOUT": "5",
    "GEMINI_TIMEOUT": "10",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault injection against real processes (`make chaos`, CHAOS=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CHAOS") == "1":
        return
    skip = pytest.mark.skip(reason="chaos cases run with `make chaos` (CHAOS=1)")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def infra():
    with Infra.running() as running:
        yield running


@pytest.fixture
def deployment(infra):
    with lab(infra, gemini_latency=0.2, **CHAOS_ENV) as run:
        yield run


@dataclass
class HealthWatch:
    """Polls /health every second in the background: (time, HTTP status, report)."""

    run: Lab
    seen: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> HealthWatch:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            status, report = self.run.stack.health()
            self.seen.append((time.time(), status, report))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> list[tuple[int, dict[str, Any]]]:
        return [(status, report) for at, status, report in self.seen if start <= at <= end]


@dataclass
class Customers:
    """Customers writing through the webhook (retried until 200, as Wappi retries)."""

    run: Lab
    prefix: str = "7706"
    written: list[tuple[str, str]] = field(default_factory=list)  # (phone, message id)

    def write(self, count: int, *, voice_every: int = 0) -> None:
        session = requests.Session()
        session.trust_env = False
        start = len(self.written)
        for i in range(start, start + count):
            phone = f"{self.prefix}{i:07d}"
            voice = bool(voice_every) and i % voice_every == 0
            message = self.run.wappi.customer_message(
                phone=phone, text="Здравствуйте! Сколько стоит доставка?", name=f"Клиент {phone}", voice=voice
            )
            if voice:
                self.run.gemini.voice_phone[message["id"]] = phone
            body = {"messages": [self.run.wappi.webhook(message)]}
            deadline = time.monotonic() + 120
            while True:
                try:
                    if session.post(self.run.stack.webhook_url, json=body, timeout=20).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "the webhook never accepted a message"
                time.sleep(1)
            self.written.append((phone, message["id"]))

    @property
    def phones(self) -> list[str]:
        return [phone for phone, _ in self.written]


@dataclass
class Tally:
    survived: int
    lost: list[str]
    duplicated: list[str]
    pending: int
    recovered_in: float = 0.0  # seconds from the end of the fault until everyone was answered

    def print(self, case: str) -> None:
        print(  # noqa: T201 - the case's verdict
            f"\n== chaos: {case}: survived {self.survived}, lost {len(self.lost)}, duplicated "
            f"{len(self.duplicated)}, outbox pending {self.pending}, recovered in {self.recovered_in:.0f} s"
            + (f"\n   lost: {self.lost[:10]}" if self.lost else "")
            + (f"\n   duplicated: {self.duplicated[:10]}" if self.duplicated else "")
        )


@dataclass
class Verdict:
    case: str
    tally: Tally
    health_shown: bool
    health_detail: str


VERDICTS: list[Verdict] = []
CHAOS_DIR = ROOT / "var" / "chaos"


def record(case: str, tally: Tally, *, health_shown: bool, health_detail: str) -> None:
    tally.print(case)
    print(f"   /health during the fault: {health_detail}")  # noqa: T201
    VERDICTS.append(Verdict(case, tally, health_shown, health_detail))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """`make chaos` ends with one table (case, survived, lost, duplicated, recovery, /health)
    and writes it as JSON to var/chaos/."""
    if not VERDICTS:
        return
    head = f"{'case':<46} {'survived':>8} {'lost':>5} {'dup':>4} {'pending':>7} {'recovery':>9}  health"
    lines = [head]
    for v in VERDICTS:
        t = v.tally
        lines.append(
            f"{v.case:<46} {t.survived:>8} {len(t.lost):>5} {len(t.duplicated):>4} {t.pending:>7} "
            f"{t.recovered_in:>7.0f} s  {'shown' if v.health_shown else 'NOT SHOWN'}"
        )
    print(f"\n\n== make chaos: summary (faults of {FAULT_SECONDS:.0f} s)\n" + "\n".join(lines))  # noqa: T201
    payload = {
        "exit_status": int(exitstatus),
        "fault_seconds": FAULT_SECONDS,
        "cases": [
            {
                "case": v.case,
                "survived": v.tally.survived,
                "lost": v.tally.lost,
                "duplicated": v.tally.duplicated,
                "outbox_pending": v.tally.pending,
                "recovered_in_seconds": round(v.tally.recovered_in, 1),
                "health_shown": v.health_shown,
                "health_detail": v.health_detail,
            }
            for v in VERDICTS
        ],
    }
    write_run(CHAOS_DIR, "chaos", payload)


def outbox_drained(run: Lab) -> bool:
    try:
        return outcome(run.db_url).outbound_pending == 0
    except Exception:  # noqa: BLE001 - the database may still be coming back
        return False


def settle(run: Lab, customers: Customers, *, timeout: float, replies_each: int = 1, since: float = 0.0) -> Tally:
    """Waits until every customer got `replies_each` sends (or `timeout`), then a little more
    for a late duplicate, and counts: lost = a message not stored or a customer not answered
    (or an outbound row never sent); duplicated = a message stored twice or a send repeated.
    The recovery time counts from `since` (time.time() of the fault) when given, else from now."""
    phones = set(customers.phones)
    started = time.monotonic()
    wall_started = time.time()
    deadline = started + timeout
    while time.monotonic() < deadline:
        got = Counter(s.recipient for s in run.wappi.sends if s.body == REPLY_TEXT)
        # Every customer answered, and no outbound row still queued/sending (a row left
        # `sending` by a killed worker is reconciled by the sweeper after a few minutes).
        if all(got[p] >= replies_each for p in phones) and outbox_drained(run):
            break
        time.sleep(1)
    recovered_in = time.monotonic() - started + (wall_started - since if since else 0.0)
    time.sleep(8)
    result = outcome(run.db_url)
    sends = Counter((s.recipient, s.body) for s in run.wappi.sends)
    # A fallback ("a manager will answer shortly") may precede the answer: count the answers.
    per_phone = Counter(s.recipient for s in run.wappi.sends if s.body == REPLY_TEXT)
    lost = [f"{mid} not stored" for _, mid in customers.written if not result.inbound_copies.get(mid)]
    lost += [f"{p} not answered" for p in phones if per_phone[p] < replies_each]
    duplicated = [
        f"{mid} stored {result.inbound_copies[mid]}x"
        for _, mid in customers.written
        if result.inbound_copies.get(mid, 0) > 1
    ]
    duplicated += [f"{p} got {body[:30]!r} {n}x" for (p, body), n in sends.items() if n > 1]
    duplicated += [f"{p} answered {per_phone[p]}x" for p in phones if per_phone[p] > replies_each]
    bad = {x.split()[0] for x in lost + duplicated}
    return Tally(len(phones - bad), lost, duplicated, result.outbound_pending + result.outbound_failed, recovered_in)
