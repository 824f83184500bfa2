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
    help = (
        "Registers our webhook URL and event types with Wappi; the shared secret goes in the URL's "
        "query, or with --header in Wappi's `auth` parameter (sent in the webhook's Authorization header)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("base_url", help="public base URL of this server, e.g. https://sales.example.kz")
        parser.add_argument(
            "--header",
            action="store_true",
            help="send the secret as Wappi's `auth` (the Authorization header), not in the URL",
        )

    def handle(self, *args: Any, base_url: str, header: bool = False, **options: Any) -> None:
        secret = settings.WAPPI_WEBHOOK_SECRET
        if not secret:
            raise CommandError("Set WAPPI_WEBHOOK_SECRET first: the webhook must carry a secret.")
        hook = f"{base_url.rstrip('/')}/webhooks/wappi/"
        client = client_from_settings()
        try:
            if header:
                client.webhook_url_set(url=hook, auth=secret)
            else:
                client.webhook_url_set(url=f"{hook}?{urlencode({'secret': secret})}")
            client.webhook_types_set(types=WEBHOOK_TYPES)
        except WappiError as exc:
            raise CommandError(f"Wappi refused: {exc}") from exc
        where = f"{hook} (secret in the Authorization header)" if header else f"{hook}?secret=…"
        self.stdout.write(f"Webhook registered: {where} types={','.join(WEBHOOK_TYPES)}")
