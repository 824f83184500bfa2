from __future__ import annotations

from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    verbose_name = "Проверка диалогов"

    def ready(self) -> None:
        # Connects this app's signal receivers (each with a dispatch_uid).
        import evals.receivers  # noqa: F401
