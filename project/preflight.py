"""What the web server needs before it answers its first request: collected static files (with
DEBUG off and the hashed-manifest storage) and a database with every migration applied.

One function, `preflight_problems`, used three times: gunicorn's master runs it before it binds
its port and refuses to start with one line per problem (project/gunicorn.conf.py,
`refuse_to_start_if_unready`); `manage.py check --deploy` reports the same lines as errors
(`check_preflight`, tagged deploy); `manage.py deploy_check` prints them among its findings.
Without this a server that skipped `collectstatic` or `migrate` starts fine and answers 500 on
every page that names a static file or reads a new column.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import django
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core import checks
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

COLLECT = "run: python manage.py collectstatic --noinput"
MIGRATE = "run: python manage.py migrate"
# What collectstatic leaves out by default (its --ignore patterns).
_IGNORED = ["CVS", ".*", "*~"]


def static_files_problem() -> str | None:
    """None when the pages can name every static file: DEBUG on or no manifest storage (files
    served straight from the apps), or a manifest in STATIC_ROOT listing every file the apps have."""
    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return None
    root = settings.STATIC_ROOT
    try:
        manifest, _hash = staticfiles_storage.load_manifest()
    except ValueError:
        return f"static files: the manifest in {root} cannot be read; {COLLECT}"
    if not manifest:
        return f"static files are not collected in {root} (STATIC_ROOT); {COLLECT}"
    missing = sorted(set(_app_static_files()) - set(manifest))
    if missing:
        return (
            f"static files in {root} are out of date: {len(missing)} file(s) the code uses are not "
            f"collected (e.g. {missing[0]}); {COLLECT}"
        )
    return None


def _app_static_files() -> Iterable[str]:
    for finder in finders.get_finders():
        for path, _storage in finder.list(_IGNORED):
            yield path.replace("\\", "/")


def migrations_problem(using: str = "default") -> str | None:
    """None when every migration of the installed apps is applied to the database."""
    try:
        executor = MigrationExecutor(connections[using])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the database cannot be read ({reason}); check DATABASE_URL and that the database server runs"
    if plan:
        first = plan[0][0]
        return (
            f"the database is not migrated: {len(plan)} migration(s) not applied "
            f"(first: {first.app_label}.{first.name}); {MIGRATE}"
        )
    return None


def preflight_problems() -> list[str]:
    """One plain line per thing the web server cannot start without (empty: ready)."""
    return [problem for problem in (static_files_problem(), migrations_problem()) if problem]


def check_preflight(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """`manage.py check --deploy`: the web server's preflight as errors."""
    ids = {"static": "project.E101", "database": "project.E102"}
    return [
        checks.Error(problem, id=ids["static"] if problem.startswith("static") else ids["database"])
        for problem in preflight_problems()
    ]


def refuse_to_start_if_unready() -> None:
    """gunicorn's master, before it binds: exits with one line per problem instead of serving
    500s. Closes its database connection, so no worker inherits it."""
    django.setup()
    try:
        problems = preflight_problems()
    finally:
        connections.close_all()
    if problems:
        sys.exit("\n".join(f"web server not started: {problem}" for problem in problems))
