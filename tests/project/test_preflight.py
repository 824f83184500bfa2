"""The web server's preflight (project/preflight.py): with DEBUG off and the hashed-manifest static
storage, pages fail with a 500 when `collectstatic` did not run, and views fail when a migration is
not applied. The preflight names either in one plain line; `manage.py check --deploy` reports it."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from project.preflight import preflight_problems

pytestmark = pytest.mark.django_db


def forget_newest_migration(app_label: str) -> str:
    """The database as it is when the newest migration of an app was never applied (the test's
    transaction rolls the row back)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE id = (SELECT id FROM django_migrations WHERE app = %s "
            "ORDER BY name DESC LIMIT 1) RETURNING name",
            [app_label],
        )
        return cursor.fetchone()[0]


def test_a_server_that_skipped_collectstatic_is_told_to_run_it(manifest_static):
    [problem] = preflight_problems()

    assert problem.startswith(f"static files are not collected in {manifest_static}")
    assert "python manage.py collectstatic --noinput" in problem


def test_collected_static_files_pass(manifest_static, collected_static, settings):
    settings.STATIC_ROOT = collected_static

    assert preflight_problems() == []


def test_static_files_collected_by_an_older_release_are_out_of_date(manifest_static, collected_static, tmp_path):
    # An upgrade brought a file the last collectstatic never saw (here: Swagger UI's stylesheet,
    # the one /api/docs/ failed on).
    stale = shutil.copytree(collected_static, manifest_static)
    manifest = json.loads((stale / "staticfiles.json").read_text())
    del manifest["paths"]["drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"]
    (stale / "staticfiles.json").write_text(json.dumps(manifest))

    [problem] = preflight_problems()

    assert "out of date" in problem
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in problem
    assert "collectstatic" in problem


def test_with_debug_on_or_without_the_manifest_storage_nothing_needs_collecting(settings):
    settings.DEBUG = False
    settings.STATIC_MANIFEST = False  # the test settings: files served from the apps

    assert preflight_problems() == []


def test_a_migration_not_applied_is_named_with_the_command_that_applies_it():
    name = forget_newest_migration("messaging")

    [problem] = preflight_problems()

    assert problem == (
        f"the database is not migrated: 1 migration(s) not applied (first: messaging.{name}); "
        "run: python manage.py migrate"
    )


def test_check_deploy_reports_the_same_lines(manifest_static):
    forget_newest_migration("contacts")

    with pytest.raises(SystemCheckError) as failure:
        call_command("check", "--deploy")

    assert "(project.E101) static files are not collected" in str(failure.value)
    assert "(project.E102) the database is not migrated: 1 migration(s) not applied" in str(failure.value)
