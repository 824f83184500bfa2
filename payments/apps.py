from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Оплаты"

    def ready(self) -> None:
        # Connects this app's signal receivers (each with a dispatch_uid).
        import payments.receivers  # noqa: F401
