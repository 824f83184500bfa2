from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate

from project.checks import check_settings


class ProjectConfig(AppConfig):
    name = "project"
    verbose_name = "Система"

    def ready(self) -> None:
        post_migrate.connect(_register_periodic_tasks, dispatch_uid="project.register_periodic_tasks")
        # The settings as they are now, held to the rules the environment was read with.
        checks.register(check_settings, "settings")


def _register_periodic_tasks(sender: AppConfig, using: str = "default", **_kwargs: object) -> None:
    # post_migrate fires once per app; the beat tables belong to django_celery_beat, so
    # act once, after its migrations: `migrate` alone sets a new database up.
    if sender.name != "django_celery_beat":
        return
    # Here, not at the top: project.schedules imports django_celery_beat's models, which an
    # AppConfig module may not import before the app registry is ready.
    from project.schedules import periodic_tasks_sync

    periodic_tasks_sync(declared=settings.PERIODIC_TASKS, using=using)
