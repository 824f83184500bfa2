"""`make run` (through bootstrap_local): the Wappi emulator posts to this server's webhook at once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.management.commands.wappi_register_webhook import WEBHOOK_TYPES
from sandbox.wappi import services


class Command(BaseCommand):
    help = (
        "Points the Wappi emulator's webhook at this server's /webhooks/wappi/ (with the secret) and "
        "subscribes it to the events the product registers with the real Wappi. Written straight to "
        "the emulator's tables, so it works before the web server is up."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("base_url", help="where this server answers, e.g. http://127.0.0.1:8000")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if not settings.WAPPI_SANDBOX:
            raise CommandError("WAPPI_SANDBOX is off: the product talks to a real Wappi, not to the emulator.")
        query = urlencode({"secret": settings.WAPPI_WEBHOOK_SECRET})
        services.webhook_url_set(url=f"{base_url.rstrip('/')}/webhooks/wappi/?{query}", auth=None)
        services.webhook_types_set(types=WEBHOOK_TYPES)
        self.stdout.write(f"Sandbox webhook: {base_url.rstrip('/')}/webhooks/wappi/?secret=…")
