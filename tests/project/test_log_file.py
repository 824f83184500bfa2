"""LOG_FILE: every process's lines also land in one file, redacted like the console's, one
JSON object per line (whatever LOG_FORMAT the console has), rotated at midnight and kept
LOG_FILE_BACKUP_DAYS days; several processes (gunicorn's workers, Celery) write it at once
without losing or mixing lines."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime, timedelta

import time_machine

from project.logging import build_formatter, file_handler
from tests.processes import ROOT, process_env

WRITE = """
import django, logging, sys
django.setup()
import structlog
log = structlog.get_logger("tests.log_file")
for i in range(int(sys.argv[1])):
    log.info(
        "contact.wrote",
        n=i,
        writer=sys.argv[2],
        note="клиент +7 701 234 56 78",
        url="/webhooks/wappi/?secret=s3cr3t-hook",
    )
logging.getLogger("gunicorn.access").info('127.0.0.1 "POST /webhooks/wappi/?secret=s3cr3t-hook HTTP/1.1" 200')
"""


def write_lines(log_file, count: int, writer: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITE, str(count), writer],
        cwd=ROOT,
        env=process_env(LOG_FILE=str(log_file)),  # the console says key=value (LOG_FORMAT=console)
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_lines_of_several_processes_land_in_the_log_file_whole_structured_and_redacted(tmp_path):
    log_file = tmp_path / "app.log"
    writers = [write_lines(log_file, 300, name) for name in ("web", "worker")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]

    text = log_file.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]  # every line whole JSON
    wrote = [r for r in records if r["event"] == "contact.wrote"]
    assert sorted((r["writer"], r["n"]) for r in wrote) == sorted(
        (name, i) for name in ("web", "worker") for i in range(300)
    )
    assert {r["logger"] for r in records} >= {"tests.log_file", "gunicorn.access"}
    assert "s3cr3t-hook" not in text
    assert "701 234" not in text
    assert wrote[0]["note"] == "клиент ***5678"


def test_without_log_file_nothing_is_written_to_a_file(tmp_path):
    code = (
        "import django, logging; django.setup(); print(sorted(type(h).__name__ for h in logging.getLogger().handlers))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=process_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "['StreamHandler']"


def test_the_file_is_rotated_at_midnight_and_only_the_configured_days_are_kept(tmp_path):
    log_file = tmp_path / "app.log"
    with time_machine.travel(datetime(2026, 12, 1, 12, 0).astimezone(), tick=False) as clock:
        handler = file_handler(str(log_file), backup_days=2)
        handler.setFormatter(build_formatter("json"))
        logger = logging.getLogger("tests.log_file.rotation")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            for day in range(5):
                logger.warning("day %s", day)
                clock.shift(timedelta(days=1))
            logger.warning("today")
        finally:
            logger.removeHandler(handler)
            logger.propagate = True
            handler.close()

    rotated = sorted(p.name for p in tmp_path.glob("app.log.*"))
    assert rotated == ["app.log.2026-12-04", "app.log.2026-12-05"]  # two days kept, older deleted
    assert json.loads(log_file.read_text())["event"] == "today"
    assert json.loads((tmp_path / "app.log.2026-12-05").read_text())["event"] == "day 4"
