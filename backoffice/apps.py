from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The Django admin of every app: an interface, so it sits on top of the layers."""

    name = "backoffice"
    verbose_name = "Администрирование"
