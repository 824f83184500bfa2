from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from messaging.poller import poll_once
from messaging.wappi import client_from_settings


class Command(BaseCommand):
    help = "Polls Wappi for new messages in the foreground (beat does this in production)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run one cycle, print what it did, and exit")

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        client = client_from_settings()
        while True:
            report = poll_once(client=client)
            self.stdout.write(report.summary())
            if once:
                return
            time.sleep(settings.POLLING_INTERVAL)
