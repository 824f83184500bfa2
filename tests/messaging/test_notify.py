"""Manager notices (messaging.notify): who is told, and never a whitelisted number."""

from __future__ import annotations

import pytest

from messaging.models import Message
from messaging.notify import managers_notify
from tests.factories import ContactFactory, WhitelistEntryFactory

pytestmark = pytest.mark.django_db


def test_a_whitelisted_manager_number_is_never_messaged(settings):
    owner = WhitelistEntryFactory()
    settings.MANAGER_PHONES = [owner.phone, "77019990011"]
    assert managers_notify(contact=ContactFactory(), reason="тест", summary="…", key="k1") == 1
    assert not Message.objects.filter(contact__phone=owner.phone).exists()
