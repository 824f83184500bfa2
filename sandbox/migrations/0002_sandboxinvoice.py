"""The Kaspi emulator's invoices, which lived in payments (payments.0002) until payments.0004.

A database that had them (a local run) keeps them: the table is renamed, rows and ids intact,
since payments refer to an invoice by its id. Otherwise the table is created empty.
"""

from decimal import Decimal

from django.db import migrations, models

OLD_TABLE = "payments_sandboxinvoice"


def adopt_or_create(apps, schema_editor):
    model = apps.get_model("sandbox", "SandboxInvoice")
    if OLD_TABLE in schema_editor.connection.introspection.table_names():
        schema_editor.alter_db_table(model, OLD_TABLE, model._meta.db_table)
    else:
        schema_editor.create_model(model)


def give_back(apps, schema_editor):
    model = apps.get_model("sandbox", "SandboxInvoice")
    schema_editor.alter_db_table(model, model._meta.db_table, OLD_TABLE)


class Migration(migrations.Migration):

    dependencies = [
        ('sandbox', '0001_initial'),
        # payments.0004 leaves the old table in place for this migration while the sandbox is installed.
        ('payments', '0004_delete_sandboxinvoice'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SandboxInvoice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=12, verbose_name='сумма, ₸')),
                        ('phone', models.CharField(max_length=20, verbose_name='телефон (как прислан)')),
                        ('comment', models.CharField(blank=True, max_length=255, verbose_name='комментарий')),
                        ('status', models.CharField(choices=[('RemotePaymentCreated', 'Выставлен'), ('Wait', 'Клиент открыл'), ('Processed', 'Оплачен'), ('Error', 'Отклонён'), ('RemotePaymentCanceled', 'Отменён')], default='RemotePaymentCreated', max_length=32, verbose_name='статус')),
                        ('available', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=12, verbose_name='можно вернуть, ₸')),
                        ('partial_refunds_allowed', models.BooleanField(default=True, verbose_name='частичный возврат разрешён')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='создан')),
                    ],
                    options={
                        'verbose_name': 'счёт в песочнице Kaspi',
                        'verbose_name_plural': 'песочница Kaspi: счета',
                        'ordering': ('-id',),
                    },
                ),
            ],
        ),
        migrations.RunPython(adopt_or_create, give_back),
    ]
