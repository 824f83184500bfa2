from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from followups.runner import followups_run_due


class Command(BaseCommand):
    help = "Runs one follow-up tick in the foreground (beat does this every minute) and prints what it did."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=None, help="work on at most this many due follow-ups")

    def handle(self, *args: Any, limit: int | None, **options: Any) -> None:
        report = followups_run_due(limit=limit)
        local = timezone.localtime
        for row in report.sent:
            self.stdout.write(
                f"sent     follow-up {row.followup_id} contact {row.contact_id} touch {row.touch_number} "
                f"message {row.message_id}"
            )
        for row in report.deferred:
            self.stdout.write(
                f"deferred follow-up {row.followup_id} contact {row.contact_id} touch {row.touch_number} "
                f"until {local(row.until):%Y-%m-%d %H:%M %Z}: {row.reason}"
            )
        for row in report.stopped:
            self.stdout.write(
                f"stopped  follow-up {row.followup_id} contact {row.contact_id} touch {row.touch_number}: {row.reason}"
            )
        self.stdout.write(report.summary())
