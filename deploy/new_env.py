#!/usr/bin/env python3
"""Writes a server's first .env from .env.example, with fresh secrets, so that `manage.py` and the
services start (without DEBUG they refuse to start with no SECRET_KEY and ALLOWED_HOSTS).

    python3 deploy/new_env.py --host sales.example.kz

Sets DEBUG=false, ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS for the host, SECURE_SSL_REDIRECT=true
(nginx terminates TLS: deploy/nginx/sales-assistant.conf), the PostgreSQL and Redis addresses, and
generates SECRET_KEY, WAPPI_WEBHOOK_SECRET, METRICS_TOKEN and FLOWER_BASIC_AUTH. Every other line of
.env.example stays as it is, comments included; fill in WAPPI_TOKEN, WAPPI_PROFILE_ID, GEMINI_API_KEY
and the rest by hand. The file is created readable by its owner only and never overwritten.

Only the standard library: it runs before anything is installed, and before settings can load.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")


def values(*, host: str, database_url: str, broker_url: str, cache_url: str, flower_user: str) -> dict[str, str]:
    """The variables this script decides, each as it will stand in .env."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": host,
        "CSRF_TRUSTED_ORIGINS": f"https://{host}",
        "SECURE_SSL_REDIRECT": "true",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CACHE_URL": cache_url,
        "WAPPI_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "METRICS_TOKEN": secrets.token_urlsafe(32),
        "FLOWER_BASIC_AUTH": f"{flower_user}:{secrets.token_urlsafe(24)}",
    }


def render(example: str, chosen: dict[str, str]) -> str:
    """.env.example with the chosen variables' lines replaced (appended when the example lacks one)."""
    lines, seen = [], set()
    for line in example.splitlines():
        name = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else ""
        if name in chosen:
            line = f"{name}={chosen[name]}"
            seen.add(name)
        lines.append(line)
    lines += [f"{name}={value}" for name, value in chosen.items() if name not in seen]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a server's first .env with generated secrets.")
    parser.add_argument("--host", required=True, help="the public host name, e.g. sales.example.kz")
    parser.add_argument(
        "--database-url",
        default="postgres:///sales_assistant",
        help="default: the local PostgreSQL over its socket, database sales_assistant, role = the OS user",
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--flower-user", default="admin")
    parser.add_argument("--output", default=str(ROOT / ".env"), help="default: .env in the project folder")
    args = parser.parse_args(argv)

    if not _HOST.match(args.host):
        parser.error(f"--host {args.host!r} is not a host name (e.g. sales.example.kz)")
    output = Path(args.output)
    if output.exists():
        sys.stderr.write(f"{output} exists already: not overwritten (edit it, or move it away first)\n")
        return 1
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    chosen = values(
        host=args.host,
        database_url=args.database_url,
        broker_url=args.broker_url,
        cache_url=args.cache_url,
        flower_user=args.flower_user,
    )
    # Created with its final mode: the secrets are never readable by others, not even for a moment.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(render(example, chosen))
    sys.stdout.write(
        f"{output} written (mode 600) with new secrets for {args.host}.\n"
        "Next: fill in WAPPI_TOKEN, WAPPI_PROFILE_ID, GEMINI_API_KEY, MANAGER_PHONES (README, Plain server).\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
