"""Used by `make run`: makes sure an admin login exists and prints where everything is."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Creates the local admin user on first run and prints the URLs and the login."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", default=os.environ.get("WEB_PORT", "8000"))
        parser.add_argument("--flower-port", default=os.environ.get("FLOWER_PORT", "5555"))

    def handle(self, *args: Any, port: str, flower_port: str, **options: Any) -> None:
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password_file = settings.VAR_DIR / "admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or secrets.token_urlsafe(9)
            User.objects.create_superuser(username=username, email="", password=password)
            settings.VAR_DIR.mkdir(exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            password = "(the password you set)"  # noqa: S105 - a hint printed to the user, not a password

        flower_login = os.environ.get("FLOWER_BASIC_AUTH") or _flower_login(settings.VAR_DIR / "flower-login.txt")
        base = f"http://127.0.0.1:{port}"
        if settings.WAPPI_SANDBOX:
            # The emulator posts customer messages to our webhook at once (polling is the net).
            from urllib.parse import urlencode

            from messaging.management.commands.wappi_register_webhook import WEBHOOK_TYPES
            from messaging.sandbox import services as sandbox

            query = urlencode({"secret": settings.WAPPI_WEBHOOK_SECRET})
            sandbox.webhook_url_set(url=f"{base}/webhooks/wappi/?{query}", auth=None)
            sandbox.webhook_types_set(types=WEBHOOK_TYPES)
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        sandbox = "Wappi sandbox" if settings.WAPPI_SANDBOX else f"Wappi {settings.WAPPI_BASE_URL}"
        lines = [
            "",
            "  WhatsApp AI sales assistant is starting:",
            f"    Admin   {base}/admin/     login: {username} / {password}",
            *(
                [f"    Chat    {base}/sandbox/   (play a customer: the Wappi sandbox)"]
                if settings.WAPPI_SANDBOX
                else []
            ),
            f"    Health  {base}/health",
            f"    Stats   {base}/stats",
            f"    Flower  http://127.0.0.1:{flower_port}/   login: {flower_login.replace(':', ' / ', 1)}",
            f"    Mode    {sandbox}, LLM backend: {settings.LLM_BACKEND}, database: {engine}",
            "  Ctrl-C stops everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _flower_login(path: Path) -> str:
    """Flower's basic-auth "user:password" for the local run: made once, kept in var/ (0600)."""
    if path.exists():
        return path.read_text().strip()
    login = f"flower:{secrets.token_urlsafe(9)}"
    path.parent.mkdir(exist_ok=True)
    path.write_text(login + "\n")
    path.chmod(0o600)
    return login
