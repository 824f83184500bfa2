from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = "ИИ"

    def ready(self) -> None:
        # The booking tools register themselves with the assistant's tool registry.
        import ai.booking_tools  # noqa: F401
