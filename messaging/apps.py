from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Переписка"

    def ready(self) -> None:
        # Connects this app's signal receivers (each with a dispatch_uid).
        import messaging.receivers  # noqa: F401
