"""Transactional tests of every kind side by side, in the order written: run by
test_transactional_isolation.py in a child pytest (the name does not start with test_, so the
suite itself never collects this file). Each one must find the database `migrate` made, whatever
its neighbour did: a TransactionTestCase empties the tables when it ends."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django_celery_beat.models import PeriodicTask

# contacts/migrations/0002_seed_whitelist.py
SEEDED_WHITELIST = {"77752837306", "77018855588", "77088098009"}


def assert_the_migrated_database() -> None:
    for model in apps.get_models():
        row = ContentType.objects.filter(app_label=model._meta.app_label, model=model._meta.model_name).first()
        assert row is not None, f"no content type for {model._meta.label}"
        # The cached id is the row's: an admin log entry or a permission points at it.
        cached = ContentType.objects.get_for_model(model, for_concrete_model=False)
        assert cached.pk == row.pk, f"stale cached content type of {model._meta.label}"
    assert Permission.objects.filter(codename="view_contact", content_type__app_label="contacts").exists()
    whitelist = apps.get_model("contacts", "WhitelistEntry")
    assert set(whitelist.objects.values_list("phone", flat=True)) == SEEDED_WHITELIST
    assert set(settings.PERIODIC_TASKS) <= set(PeriodicTask.objects.values_list("name", flat=True))


def log_an_admin_action(django_user_model) -> None:
    user = django_user_model.objects.create_user("neighbour")
    LogEntry.objects.log_actions(user_id=user.pk, queryset=[user], action_flag=ADDITION)


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test(django_user_model):
    assert_the_migrated_database()
    log_an_admin_action(django_user_model)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_serialized_rollback_test_after_a_transactional_one(django_user_model):
    assert_the_migrated_database()
    log_an_admin_action(django_user_model)


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_after_a_serialized_rollback_one(django_user_model):
    assert_the_migrated_database()
    log_an_admin_action(django_user_model)


def test_a_live_server_test_last(live_server, django_user_model):
    assert_the_migrated_database()
    log_an_admin_action(django_user_model)
