"""The admin's actions ask for the permission the action needs, like the API does: a staff
member who may only look at contacts or payments cannot change them through a bulk action."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model):
    user = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_contact", "view_payment"]))
    client.force_login(user)
    return client


@pytest.mark.parametrize("action", ["mark_client", "pause_bot"])
def test_a_staff_member_who_may_only_view_contacts_cannot_run_a_contact_action(viewer, action):
    contact = ContactFactory(is_client=None)

    viewer.post(
        "/admin/contacts/contact/", {"action": action, "_selected_action": [contact.pk], "index": 0}, follow=True
    )

    contact.refresh_from_db()
    assert (contact.is_client, contact.bot_mode) == (None, Contact.BotMode.AI)


def test_delete_contact_is_the_only_permission_the_admins_delete_needs(client, django_user_model):
    """Erasure is one service, so the confirmation does not ask for permissions on the rows it
    erases (messages are otherwise deletable by superusers only), as in the API."""
    from messaging.models import Message
    from tests.factories import InboundMessageFactory

    user = django_user_model.objects.create_user(username="eraser", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_contact", "delete_contact"]))
    client.force_login(user)
    contact = ContactFactory()
    InboundMessageFactory(contact=contact)

    client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"})

    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Message.objects.exists()
