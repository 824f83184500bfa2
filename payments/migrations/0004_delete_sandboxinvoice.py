"""SandboxInvoice, the Kaspi emulator's table, leaves the payments app for the dev-only `sandbox` app.

The model leaves payments' state here. Its table is dropped unless the sandbox app is installed:
then sandbox.0002 (which runs after this) renames it to sandbox_sandboxinvoice, keeping a local
database's invoices, whose ids payments refer to (Payment.kaspi_payment_id is unique, and a new
table would hand out 1, 2, ... again). The app is named as a string: payments imports nothing of it.
"""

from django.apps import apps as global_apps
from django.db import migrations

OLD_TABLE = "payments_sandboxinvoice"


def drop_unless_the_sandbox_adopts_it(apps, schema_editor):
    if global_apps.is_installed("sandbox"):
        return
    if OLD_TABLE in schema_editor.connection.introspection.table_names():
        schema_editor.delete_model(apps.get_model("payments", "SandboxInvoice"))


def recreate_if_missing(apps, schema_editor):
    if OLD_TABLE not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(apps.get_model("payments", "SandboxInvoice"))


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_payment_contact_set_null'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_unless_the_sandbox_adopts_it, recreate_if_missing)],
            state_operations=[migrations.DeleteModel(name='SandboxInvoice')],
        ),
    ]
