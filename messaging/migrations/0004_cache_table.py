"""Creates the database cache's table when a database cache is configured (the one-machine
run), so `migrate` stays the only setup step. With Redis as the cache it does nothing."""

from __future__ import annotations

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_inbound_unhandled_index")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
