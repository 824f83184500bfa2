"""`python manage.py restore_database <file>`: a dump from `backup_database` into an EMPTY database
(the product's own, or `--database-url`), in one transaction. A database that has tables is
refused unless `--force` (its objects are then replaced). Stop web, worker and beat first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from project.lib.backups import BackupError, backup_restore, database_from_settings, database_from_url


class Command(BaseCommand):
    help = "Restores a backup_database dump into an empty database (pg_restore, one transaction)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="a .dump file written by backup_database")
        parser.add_argument(
            "--database-url",
            help="restore into this database instead of DATABASE_URL's (postgres://user:password@host:5432/name)",
        )
        parser.add_argument("--force", action="store_true", help="replace what a non-empty database holds")

    def handle(self, *args: Any, file: str, database_url: str | None, force: bool, **options: Any) -> None:
        try:
            database = database_from_url(database_url) if database_url else database_from_settings()
            backup_restore(file=Path(file), database=database, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored {file} into {database.name}")
