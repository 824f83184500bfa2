from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from messaging.wappi import WappiError, client_from_settings

WEBHOOK_TYPES = [
    "incoming_message",
    "outgoing_message_phone",
    "outgoing_message_api",
    "delivery_status",
    "authorization_status",
]


class Command(BaseCommand):
    help = "Registers our webhook URL (with the shared secret in its query) and event types with Wappi."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("base_url", help="public base URL of this server, e.g. https://sales.example.kz")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if not settings.WAPPI_WEBHOOK_SECRET:
            raise CommandError("Set WAPPI_WEBHOOK_SECRET first: the webhook URL must carry a secret.")
        url = f"{base_url.rstrip('/')}/webhooks/wappi/?{urlencode({'secret': settings.WAPPI_WEBHOOK_SECRET})}"
        client = client_from_settings()
        try:
            client.webhook_url_set(url=url)
            client.webhook_types_set(types=WEBHOOK_TYPES)
        except WappiError as exc:
            raise CommandError(f"Wappi refused: {exc}") from exc
        self.stdout.write(
            f"Webhook registered: {base_url.rstrip('/')}/webhooks/wappi/?secret=… types={','.join(WEBHOOK_TYPES)}"
        )
