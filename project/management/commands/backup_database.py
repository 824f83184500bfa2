"""`python manage.py backup_database`: one pg_dump of the database into BACKUP_DIR, dumps older than
BACKUP_KEEP_DAYS pruned. `--every 24` keeps running (the docker compose `backup` service): a dump
whenever the newest one is that many hours old, so a restart neither skips a day nor dumps twice."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from project.lib.backups import BackupError, backup_next_due, backup_run

log = structlog.get_logger(__name__)

# After a failed dump (the database restarting, a full disk) the next try comes this much later.
RETRY_AFTER = timedelta(minutes=15)


class Command(BaseCommand):
    help = "Dumps the database into BACKUP_DIR (pg_dump -Fc) and prunes dumps older than BACKUP_KEEP_DAYS."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--every",
            type=float,
            metavar="HOURS",
            help="keep running: dump whenever the newest dump is this many hours old (e.g. 24)",
        )

    def handle(self, *args: Any, every: float | None = None, **options: Any) -> None:
        if every is None:
            try:
                dump = backup_run()
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"backup written: {dump}")
            return
        if every <= 0:
            raise CommandError("--every takes a number of hours above 0")
        self._loop(timedelta(hours=every))

    def _loop(self, every: timedelta) -> None:  # pragma: no cover - runs until the container stops
        while True:
            try:
                due = backup_next_due(every=every)
                if timezone.now() >= due:
                    self.stdout.write(f"backup written: {backup_run()}")
                    due = backup_next_due(every=every)
            except BackupError as exc:
                log.error("backup.failed", error=str(exc))
                due = timezone.now() + RETRY_AFTER
            time.sleep(max(1.0, min((due - timezone.now()).total_seconds(), 3600.0)))
