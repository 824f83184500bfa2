from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "followups"
    verbose_name = "Follow-up"

    def ready(self) -> None:
        # Connects this app's signal receivers (each with a dispatch_uid).
        import followups.receivers  # noqa: F401
