"""Collectors: CPU and memory of process trees (/proc), the database's own statistics
(pg_stat_statements, pg_stat_database), and the outcome of a run read straight from SQL."""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process and of its children that exited and were waited for
    (cutime + cstime: a PostgreSQL backend of a closed connection, a recycled gunicorn worker),
    in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat): what
    every process used, including short-lived ones no process tree sampler sees."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class ProcSampler:
    """Samples named process trees every `interval` s: CPU seconds (tree total, the last
    sample, so children that exit between samples are undercounted slightly) and peak RSS.
    Names in `alone` are sampled without their children (the test process itself)."""

    roots: dict[str, int]
    alone: frozenset[str] = frozenset()
    interval: float = 1.0
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_last: dict[str, float] = field(default_factory=dict)
    rss_peak: dict[str, float] = field(default_factory=dict)
    machine: tuple[float, float] = (0.0, 0.0)  # (busy, total) CPU seconds of all cores over the run
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        for name, pid in self.roots.items():
            pids = [pid] if name in self.alone else process_tree(pid)
            self.cpu_last[name] = sum(cpu_seconds(p) for p in pids)
            self.rss_peak[name] = max(self.rss_peak.get(name, 0.0), sum(rss_mb(p) for p in pids))

    def __enter__(self) -> ProcSampler:
        self._sample()
        self.cpu_start = dict(self.cpu_last)
        self._machine_start = machine_busy_seconds()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        end = machine_busy_seconds()
        self.machine = (end[0] - self._machine_start[0], end[1] - self._machine_start[1])

    def cpu_used(self, name: str) -> float:
        return self.cpu_last.get(name, 0.0) - self.cpu_start.get(name, 0.0)


def db(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def db_counters(url: str) -> dict[str, int]:
    """pg_stat_statements' calls (all, and without transaction control) and pg_stat_database's
    transactions and tuples for this database."""
    with db(url) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, "
            "sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        names = ("xacts", "returned", "fetched", "inserted", "updated", "deleted", "sessions")
        counters = dict(zip(names, row, strict=True))
        try:
            calls = conn.execute(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query !~* "
                "'^\\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET|SHOW)'), 0) FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()"
            ).fetchone()
            counters["statements"], counters["queries"] = int(calls[0]), int(calls[1])
        except psycopg.Error:
            counters["statements"] = counters["queries"] = -1
    return counters


def top_statements(url: str, limit: int = 10) -> list[tuple[int, float, str]]:
    """The statements PostgreSQL spent most time executing since the last reset: (calls, total
    ms, the normalised text shortened), most expensive first."""
    with db(url) as conn:
        try:
            rows = conn.execute(
                "SELECT calls, total_exec_time, query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                "WHERE d.datname = current_database() ORDER BY total_exec_time DESC LIMIT %s",
                (limit,),
            ).fetchall()
        except psycopg.Error:
            return []
    return [(int(calls), float(ms), " ".join(query.split())[:150]) for calls, ms, query in rows]


def db_stats_reset(url: str) -> None:
    with db(url) as conn:
        try:
            conn.execute("SELECT pg_stat_statements_reset()")
        except psycopg.Error:
            pass


@dataclass
class Outcome:
    """What the database says about a run."""

    inbound_copies: Counter[str]  # provider message id -> rows
    replies_sent: Counter[str]  # phone -> outbound rows delivered to Wappi (sent/delivered/read)
    outbound_pending: int
    outbound_failed: int
    outbound_to: Counter[str]  # phone -> outbound rows of any status
    clients: dict[str, bool | None]  # phone -> is_client


def outcome(url: str) -> Outcome:
    with db(url) as conn:
        inbound = Counter(
            dict(
                conn.execute(
                    "SELECT provider_message_id, count(*) FROM messaging_message "
                    "WHERE direction = 'in' AND provider_message_id IS NOT NULL GROUP BY 1"
                ).fetchall()
            )
        )
        sent = Counter(
            dict(
                conn.execute(
                    "SELECT c.phone, count(*) FROM messaging_message m JOIN contacts_contact c ON c.id = m.contact_id "
                    "WHERE m.direction = 'out' AND m.status IN ('sent', 'delivered', 'read') GROUP BY 1"
                ).fetchall()
            )
        )
        to = Counter(
            dict(
                conn.execute(
                    "SELECT c.phone, count(*) FROM messaging_message m JOIN contacts_contact c ON c.id = m.contact_id "
                    "WHERE m.direction = 'out' GROUP BY 1"
                ).fetchall()
            )
        )
        pending, failed = conn.execute(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'sending')), count(*) FILTER (WHERE status = 'failed') "
            "FROM messaging_message WHERE direction = 'out'"
        ).fetchone()
        clients = dict(conn.execute("SELECT phone, is_client FROM contacts_contact").fetchall())
    return Outcome(inbound, sent, pending, failed, to, clients)


def reply_stages(url: str) -> list[tuple[str, float, float, float]]:
    """For every reply sent: (the answered message's WhatsApp id, when that message was stored,
    when the reply was queued, when it was sent), unix times, from the database's own clocks."""
    with db(url) as conn:
        return conn.execute(
            "SELECT i.provider_message_id, extract(epoch FROM i.created_at), extract(epoch FROM o.created_at), "
            "extract(epoch FROM o.sent_at) FROM messaging_message o JOIN messaging_message i ON i.id = o.reply_to_id "
            "WHERE o.direction = 'out' AND o.purpose = 'reply' AND o.sent_at IS NOT NULL"
        ).fetchall()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)
