from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"
    verbose_name = "Ассистент"

    def ready(self) -> None:
        # The tools register themselves with the assistant's tool registry; the receivers
        # connect to the channel's and the model library's signals.
        import assistant.receivers
        import assistant.tools.booking
        import assistant.tools.payments  # noqa: F401
