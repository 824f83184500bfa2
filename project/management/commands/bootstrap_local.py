"""Used by `make run`: makes sure an admin login exists and prints where everything is."""

from __future__ import annotations

import os
import secrets
from io import StringIO
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
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
        # The emulator is this server's own (installed with SANDBOX_ENABLED), not one elsewhere.
        local_wappi = settings.WAPPI_SANDBOX and apps.is_installed("sandbox")
        if local_wappi:
            # The emulator posts customer messages to our webhook at once (polling is the net).
            call_command("sandbox_connect", base, stdout=StringIO())
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        wappi = "Wappi sandbox" if settings.WAPPI_SANDBOX else f"Wappi {settings.WAPPI_BASE_URL}"
        lines = [
            "",
            "  WhatsApp AI sales assistant is starting:",
            f"    Admin   {base}/admin/     login: {username} / {password}",
            *([f"    Chat    {base}/sandbox/   (play a customer: the Wappi sandbox)"] if local_wappi else []),
            f"    Health  {base}/health",
            f"    Stats   {base}/stats",
            f"    Flower  http://127.0.0.1:{flower_port}/   login: {flower_login.replace(':', ' / ', 1)}",
            f"    Mode    {wappi}, LLM backend: {settings.LLM_BACKEND}, database: {engine}",
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
