from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = "ИИ"

    def ready(self) -> None:
        # Connects this app's signal receivers (each with a dispatch_uid).
        import ai.receivers  # noqa: F401
