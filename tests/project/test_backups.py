"""Daily backups and a tested restore: `manage.py backup_database` (pg_dump -Fc into BACKUP_DIR,
old dumps pruned), `manage.py restore_database <file>` (into an empty database), the docker
compose `backup` service, and the age of the last backup on /health. Real PostgreSQL and the
real pg_dump / pg_restore of this machine."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
import time_machine
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from ai.models import ModelCall
from payments.models import Payment
from tests.factories import ClientFactory, ContactFactory, InboundMessageFactory, OutboundMessageFactory
from tests.processes import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def _server_url(database: str) -> str:
    """The test server's URL for another database on it."""
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT'] or 5432}/{database}"


def _row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


@pytest.fixture
def empty_database():
    """A new, empty database on the test server (dropped afterwards): where a restore goes."""
    name = f"{connection.settings_dict['NAME']}_restore"
    admin = _server_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _server_url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _populate() -> None:
    client = ClientFactory(name="Асель")
    for _ in range(3):
        InboundMessageFactory(contact=client, text="Сколько стоит вода?")
        OutboundMessageFactory(contact=client, text="Вода 19 л — 1 200 ₸")
    ContactFactory.create_batch(4)
    Payment.objects.create(
        contact=client,
        amount=Decimal("3600"),
        description="Вода 19 л (бутыль), 3 шт.",
        phone=client.phone,
        created_by=Payment.CreatedBy.AI,
        status=Payment.Status.AWAITING_APPROVAL,
        expires_at=timezone.now() + timedelta(hours=24),
    )
    ModelCall.objects.create(backend="offline", purpose="reply", model="offline", contact_id=client.pk)


@pytest.mark.django_db(transaction=True)
def test_a_daily_dump_restores_into_an_empty_database_with_every_row_of_every_table(tmp_path, settings, empty_database):
    settings.BACKUP_DIR = tmp_path
    _populate()

    call_command("backup_database")

    dumps = sorted(tmp_path.iterdir())
    assert [p.suffix for p in dumps] == [".dump"]  # one finished dump, no temp file left behind
    call_command("restore_database", str(dumps[0]), "--database-url", empty_database)
    source = _row_counts(_server_url(connection.settings_dict["NAME"]))
    restored = _row_counts(empty_database)
    assert restored == source
    assert source["contacts_contact"] >= 5
    assert source["messaging_message"] >= 6
    assert source["payments_payment"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_restore_refuses_a_database_that_has_tables_unless_forced(tmp_path, settings, empty_database):
    settings.BACKUP_DIR = tmp_path
    ContactFactory()
    call_command("backup_database")
    dump = next(tmp_path.iterdir())
    call_command("restore_database", str(dump), "--database-url", empty_database)

    with pytest.raises(CommandError, match="not empty"):
        call_command("restore_database", str(dump), "--database-url", empty_database)
    call_command("restore_database", str(dump), "--database-url", empty_database, "--force")

    assert _row_counts(empty_database) == _row_counts(_server_url(connection.settings_dict["NAME"]))


def test_a_restore_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("restore_database", str(tmp_path / "nothing.dump"), "--database-url", _server_url("x"))


@pytest.mark.django_db(transaction=True)
def test_dumps_older_than_the_kept_days_are_pruned_and_the_newest_always_stays(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path
    settings.BACKUP_KEEP_DAYS = 14
    with time_machine.travel("2026-11-01 03:00 +05:00", tick=False):
        call_command("backup_database")
    with time_machine.travel("2026-11-10 03:00 +05:00", tick=False):
        call_command("backup_database")
    (tmp_path / "notes.txt").write_text("an operator's file")
    assert len(list(tmp_path.glob("*.dump"))) == 2

    with time_machine.travel("2026-11-20 03:00 +05:00", tick=False):
        call_command("backup_database")

    kept = sorted(p.name for p in tmp_path.glob("*.dump"))
    assert len(kept) == 2
    assert "20261031" not in " ".join(kept)  # the 1 November dump is gone
    assert "20261101" not in " ".join(kept)
    assert (tmp_path / "notes.txt").exists()  # only our own dumps are ever deleted


def test_the_backup_command_says_how_to_configure_it_when_backup_dir_is_unset(settings):
    settings.BACKUP_DIR = None
    with pytest.raises(CommandError, match="BACKUP_DIR"):
        call_command("backup_database")


@pytest.mark.django_db
def test_health_shows_no_backup_section_state_when_backups_are_not_configured(client, settings):
    settings.BACKUP_DIR = None
    backups = client.get("/health").json()["backups"]
    assert backups["status"] == "off"


@pytest.mark.django_db(transaction=True)
def test_health_shows_the_age_of_the_last_backup_and_degrades_after_26_hours(client, settings, tmp_path):
    settings.BACKUP_DIR = tmp_path
    with time_machine.travel("2026-11-23 03:00 +05:00", tick=False):
        assert client.get("/health").json()["backups"]["status"] == "degraded"  # configured, never ran
        call_command("backup_database")
    with time_machine.travel("2026-11-23 15:00 +05:00", tick=False):
        response = client.get("/health")
        fresh = response.json()["backups"]
    assert fresh["status"] == "ok"
    assert fresh["age_hours"] == 12.0
    assert fresh["last_backup"].startswith("2026-11-23T03:00")
    with time_machine.travel("2026-11-24 05:30 +05:00", tick=False):
        response = client.get("/health")
    assert response.status_code == 200  # customers are still served; the operator must look
    assert response.json()["backups"]["status"] == "degraded"
    assert response.json()["backups"]["age_hours"] == 26.5


def test_docker_compose_runs_a_daily_backup_service_with_retention_into_a_volume_web_can_read():
    compose = yaml.safe_load(COMPOSE.read_text())
    backup = compose["services"]["backup"]
    command = " ".join(backup["command"]) if isinstance(backup["command"], list) else backup["command"]
    assert "backup_database" in command
    assert "--every" in command
    env = backup["environment"]
    assert env["BACKUP_DIR"] == "/backups"
    assert "BACKUP_KEEP_DAYS" in env
    assert any(str(v).endswith(":/backups") for v in backup["volumes"])
    assert "backups" in compose["volumes"]
    web = compose["services"]["web"]
    assert web["environment"]["BACKUP_DIR"] == "/backups"  # /health sees the age of the last dump
    assert any(str(v).endswith(":/backups:ro") for v in web["volumes"])


def test_the_image_has_a_pg_dump_for_the_compose_database_version():
    compose = yaml.safe_load(COMPOSE.read_text())
    major = urlparse("//" + compose["services"]["db"]["image"]).netloc.split(":")[1].split("-")[0]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG PG_CLIENT_MAJOR={major}\n" in dockerfile
    assert "postgresql-client-${PG_CLIENT_MAJOR}" in dockerfile


def test_a_dump_file_name_carries_its_utc_time_and_is_never_a_temp_name(tmp_path, settings, db):
    settings.BACKUP_DIR = tmp_path
    with time_machine.travel("2026-11-23 03:00 +05:00", tick=False):
        call_command("backup_database")
    (dump,) = list(Path(tmp_path).iterdir())
    assert dump.name.endswith("-20261122T220000Z.dump")
