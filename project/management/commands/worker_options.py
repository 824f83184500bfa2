"""`celery -A project worker $(python manage.py worker_options llm|main)`: the worker's queues,
pool and concurrency, decided in settings (CELERY_LLM_POOL, CELERY_LLM_CONCURRENCY,
CELERY_WORKER_POOL, CELERY_WORKER_CONCURRENCY) and printed as command-line options, because a
gevent pool must be named on the command line (it patches the standard library first)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

SHAPES = {
    # Slow model calls: hundreds in flight on one process.
    "llm": lambda: ["-Q", "llm", "-n", "llm@%h", "-P", settings.CELERY_LLM_POOL, "-c", settings.CELERY_LLM_CONCURRENCY],
    # Short work that must never wait behind the model: storing messages, sending, the rest.
    "main": lambda: [
        "-Q",
        "ingest,send,default",
        "-P",
        settings.CELERY_WORKER_POOL,
        "-c",
        settings.CELERY_WORKER_CONCURRENCY,
    ],
}


class Command(BaseCommand):
    help = "Prints the Celery worker options of one worker shape: llm (the model worker) or main."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("shape", choices=sorted(SHAPES))

    def handle(self, *args: Any, shape: str, **options: Any) -> None:
        self.stdout.write(" ".join(str(part) for part in SHAPES[shape]()))
