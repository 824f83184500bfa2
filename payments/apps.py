from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Оплаты"

    def ready(self) -> None:
        # The assistant's `create_payment_link` tool registers itself with the tool registry.
        import payments.tools  # noqa: F401
