"""The owners' personal numbers from the specification: never processed, never messaged."""

from __future__ import annotations

from django.db import migrations

SEED = [
    ("77752837306", "Личный номер 1"),
    ("77018855588", "Личный номер 2"),
    ("77088098009", "Личный номер 3"),
]


def seed(apps, schema_editor):
    WhitelistEntry = apps.get_model("contacts", "WhitelistEntry")
    for phone, note in SEED:
        WhitelistEntry.objects.get_or_create(phone=phone, defaults={"note": note})


def unseed(apps, schema_editor):
    WhitelistEntry = apps.get_model("contacts", "WhitelistEntry")
    WhitelistEntry.objects.filter(phone__in=[phone for phone, _ in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
