"""Database backups: pg_dump custom-format files in BACKUP_DIR, pruned after BACKUP_KEEP_DAYS, and
a restore into an empty database (`manage.py backup_database`, `manage.py restore_database`).

A dump is named `<database>-<UTC time>.dump` (the name is the record of when it was taken, so a
copied file keeps its age) and is written under a hidden temporary name first, then renamed: a
dump that is there is complete. Only files with that shape are ever pruned, the newest always stays.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import environ
import psycopg
import structlog
from django.conf import settings
from django.utils import timezone

log = structlog.get_logger(__name__)

_DUMP = re.compile(r"^(?P<db>[A-Za-z0-9_.-]+)-(?P<stamp>\d{8}T\d{6}Z)\.dump$")
_STAMP = "%Y%m%dT%H%M%SZ"
# Generous: a dump of a year of conversations takes minutes; a hung server must not hang forever.
DUMP_TIMEOUT_SECONDS = 6 * 3600


class BackupError(Exception):
    """A dump or restore that did not happen, with the reason in words."""


@dataclass(frozen=True)
class Database:
    """Where pg_dump / pg_restore connect; the password travels in the environment, never argv."""

    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    def environ(self) -> dict[str, str]:
        values = {"PGHOST": self.host, "PGPORT": self.port, "PGUSER": self.user, "PGPASSWORD": self.password}
        return {**os.environ, **{k: v for k, v in values.items() if v}, "PGDATABASE": self.name}

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            dbname=self.name,
            host=self.host or None,
            port=self.port or None,
            user=self.user or None,
            password=self.password or None,
            autocommit=True,
            connect_timeout=10,
        )


def database_from_settings(config: dict[str, Any] | None = None) -> Database:
    """The product's own database (settings.DATABASES["default"]); PostgreSQL only."""
    config = config or settings.DATABASES["default"]
    if "postgresql" not in config["ENGINE"]:
        raise BackupError(
            "backups need PostgreSQL (DATABASE_URL=postgres://...); the one-machine SQLite run keeps "
            "its data in one file under VAR_DIR: copy that file instead"
        )
    return Database(
        name=str(config["NAME"]),
        host=str(config.get("HOST") or ""),
        port=str(config.get("PORT") or ""),
        user=str(config.get("USER") or ""),
        password=str(config.get("PASSWORD") or ""),
    )


def database_from_url(url: str) -> Database:
    """A database named by a URL (postgres://user:password@host:5432/name)."""
    return database_from_settings(environ.Env.db_url_config(url))


def backup_dir() -> Path:
    if not settings.BACKUP_DIR:
        raise BackupError("BACKUP_DIR is not set: name the folder dumps go to (e.g. BACKUP_DIR=/backups)")
    return Path(settings.BACKUP_DIR)


def backup_files(directory: Path) -> list[tuple[datetime, Path]]:
    """Our dumps in `directory`, oldest first, with the moment each was taken."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _DUMP.match(path.name)
        if match and path.is_file():
            found.append((datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC), path))
    return sorted(found)


def backup_create(*, directory: Path, database: Database, now: datetime | None = None) -> Path:
    """pg_dump -Fc of `database` into `directory`; returns the dump. Raises BackupError."""
    now = now or timezone.now()
    directory.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", database.name)
    final = directory / f"{safe_name}-{now.astimezone(UTC):{_STAMP}}.dump"
    partial = directory / f".{final.name}.partial"
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["pg_dump", "--format=custom", "--no-password", f"--file={partial}"],  # noqa: S607
            env=database.environ(),
            capture_output=True,
            text=True,
            timeout=DUMP_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump did not run: {exc}") from exc
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[-500:]}")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
    log.info("backup.created", file=final.name, size_bytes=final.stat().st_size)
    return final


def backups_prune(*, directory: Path, keep_days: int, now: datetime | None = None) -> list[Path]:
    """Deletes our dumps taken more than `keep_days` ago (never the newest one) and temporary files
    a killed dump left behind over a day ago. Returns what was deleted."""
    now = now or timezone.now()
    dumps = backup_files(directory)
    cutoff = now - timedelta(days=keep_days)
    removed = [path for taken, path in dumps[:-1] if taken < cutoff]
    if directory.is_dir():
        removed += [
            path
            for path in directory.glob(".*.dump.partial")
            if datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) < now - timedelta(days=1)
        ]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        log.info("backup.pruned", files=[p.name for p in removed], keep_days=keep_days)
    return removed


def backup_run(*, now: datetime | None = None) -> Path:
    """One daily backup of the product's database into BACKUP_DIR, then the pruning."""
    now = now or timezone.now()
    directory = backup_dir()
    dump = backup_create(directory=directory, database=database_from_settings(), now=now)
    backups_prune(directory=directory, keep_days=settings.BACKUP_KEEP_DAYS, now=now)
    return dump


def backup_next_due(*, every: timedelta, now: datetime | None = None) -> datetime:
    """When the next backup is due: `every` after the newest dump, or now when there is none."""
    now = now or timezone.now()
    dumps = backup_files(backup_dir())
    return dumps[-1][0] + every if dumps else now


def _user_tables(database: Database) -> int:
    with database.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    return int(row[0]) if row else 0


def backup_restore(*, file: Path, database: Database, force: bool = False) -> None:
    """pg_restore of a dump into `database`, in one transaction (a failed restore leaves nothing).
    Refuses a database that has tables unless `force` (then its objects are replaced)."""
    if not file.is_file():
        raise BackupError(f"no such file: {file}")
    try:
        tables = _user_tables(database)
    except psycopg.Error as exc:
        raise BackupError(f"cannot connect to database {database.name}: {exc}") from exc
    if tables and not force:
        raise BackupError(
            f"database {database.name} is not empty ({tables} tables): restore into a new empty database "
            "(createdb), or pass --force to replace what it holds"
        )
    argv = ["pg_restore", "--no-owner", "--no-privileges", "--no-password", "--exit-on-error", "--single-transaction"]
    if force:
        argv += ["--clean", "--if-exists"]
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*argv, f"--dbname={database.name}", str(file)],
            env=database.environ(),
            capture_output=True,
            text=True,
            timeout=DUMP_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"pg_restore did not run: {exc}") from exc
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was restored): {result.stderr.strip()[-500:]}")
    log.info("backup.restored", file=file.name, database=database.name, forced=force)


def backup_status(now: datetime | None = None) -> dict[str, Any]:
    """For /health: the newest dump's time and age. "off" when BACKUP_DIR is unset; "degraded"
    when there is none yet or it is older than BACKUP_STALE_HOURS."""
    if not settings.BACKUP_DIR:
        return {"status": "off"}
    now = now or timezone.now()
    dumps = backup_files(Path(settings.BACKUP_DIR))
    if not dumps:
        return {"status": "degraded", "last_backup": None, "error": "no backup in BACKUP_DIR yet"}
    taken, path = dumps[-1]
    age_hours = (now - taken).total_seconds() / 3600
    return {
        "status": "ok" if age_hours <= settings.BACKUP_STALE_HOURS else "degraded",
        "last_backup": timezone.localtime(taken).isoformat(),
        "age_hours": round(age_hours, 1),
        "file": path.name,
        "count": len(dumps),
    }
