from __future__ import annotations

import structlog
from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate

from project.checks import check_settings
from project.preflight import check_preflight


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Система"

    def ready(self) -> None:
        post_migrate.connect(_register_periodic_tasks, dispatch_uid="project.register_periodic_tasks")
        # The settings as they are now, held to the rules the environment was read with.
        checks.register(check_settings, "settings")
        # `check --deploy`: what the web server refuses to start without (static files, migrations).
        checks.register(check_preflight, "deploy", deploy=True)
        _warn_of_sandboxes()


def _warn_of_sandboxes() -> None:
    """One warning line at the start of every process (web, worker, beat) when an emulator or the
    sandbox pages are on without DEBUG: a server that talks to a pretend WhatsApp or bank must
    say so where operators look. /health shows the same ("sandbox")."""
    on = {
        "pages": settings.SANDBOX_ENABLED,
        "wappi": settings.WAPPI_SANDBOX,
        "kaspi": settings.KASPI_SANDBOX,
    }
    if settings.DEBUG or not any(on.values()):
        return
    structlog.get_logger(__name__).warning(
        "sandbox.on_without_debug",
        sandboxes=",".join(name for name, value in on.items() if value),
        note="built-in emulators, asked for by name; not for real customers",
    )


def _register_periodic_tasks(sender: AppConfig, using: str = "default", **_kwargs: object) -> None:
    # post_migrate fires once per app; the beat tables belong to django_celery_beat, so
    # act once, after its migrations: `migrate` alone sets a new database up.
    if sender.name != "django_celery_beat":
        return
    # Here, not at the top: project.schedules imports django_celery_beat's models, which an
    # AppConfig module may not import before the app registry is ready.
    from project.schedules import periodic_tasks_sync

    periodic_tasks_sync(declared=settings.PERIODIC_TASKS, using=using)
