"""Container healthchecks: `python manage.py healthcheck web|worker|worker-llm|beat` exits 0 when healthy."""

from __future__ import annotations

import socket
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from project.celery import app


class Command(BaseCommand):
    help = "Exits 0 when this container's process is healthy (web: /health; worker: ping; beat: recent tick)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("role", choices=["web", "worker", "worker-llm", "beat"])
        parser.add_argument("--url", default="http://127.0.0.1:8000/health")

    def handle(self, *args: Any, role: str, url: str, **options: Any) -> None:
        getattr(self, f"_{role.replace('-', '_')}")(url)
        self.stdout.write(f"{role}: healthy")

    def _web(self, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a fixed local URL
                if response.status != 200:
                    raise CommandError(f"web: {url} answered {response.status}")
        except OSError as exc:
            raise CommandError(f"web: {url} unreachable: {exc}") from exc

    def _worker(self, _url: str) -> None:
        # The default node name is celery@<hostname>.
        node = f"celery@{socket.gethostname()}"
        if not app.control.inspect(destination=[node], timeout=5).ping():
            raise CommandError(f"worker: {node} did not answer a ping")

    def _worker_llm(self, _url: str) -> None:
        # The model worker's node name (manage.py worker_options llm): llm@<hostname>.
        node = f"llm@{socket.gethostname()}"
        if not app.control.inspect(destination=[node], timeout=5).ping():
            raise CommandError(f"worker-llm: {node} did not answer a ping")

    def _beat(self, _url: str) -> None:
        last = PeriodicTask.objects.filter(name="project.heartbeat").values_list("last_run_at", flat=True).first()
        limit = 3 * settings.HEARTBEAT_INTERVAL + 10
        if last is None or (timezone.now() - last).total_seconds() > limit:
            raise CommandError(f"beat: no heartbeat sent in the last {limit:.0f} s (last: {last})")
