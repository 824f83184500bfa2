from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The built-in emulators of Wappi (wappi/) and Kaspi Pay (kaspi/), for local runs and tests.

    Installed only with settings.SANDBOX_ENABLED; no product module imports it. The label is the
    one the Wappi emulator had inside messaging, so its tables and migration history carry over.
    """

    name = "sandbox"
    label = "sandbox"
    verbose_name = "Песочница (Wappi и Kaspi)"
