"""The public base URL: the one address both the managers' hand-off briefs and the suspicious-
activity notices link the admin on (PUBLIC_BASE_URL, else the first CSRF_TRUSTED_ORIGINS origin)."""

import pytest

from messaging import handoffs, suspicious
from project.lib.public_url import public_base_url
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_the_admin_link_in_briefs_and_notices_uses_the_sites_origin_when_no_public_base_url_is_set(settings):
    # deploy/new_env.py writes CSRF_TRUSTED_ORIGINS for the host, never PUBLIC_BASE_URL.
    settings.PUBLIC_BASE_URL = ""
    settings.CSRF_TRUSTED_ORIGINS = ["https://sales.example.kz", "https://other.example.kz"]
    contact = ContactFactory()
    card = f"https://sales.example.kz/admin/contacts/contact/{contact.pk}/change/"

    assert handoffs.admin_link(contact) == card
    assert suspicious.admin_link(contact) == card


def test_public_base_url_wins_over_the_origin_in_both_links(settings):
    settings.PUBLIC_BASE_URL = "https://crm.example.kz"
    settings.CSRF_TRUSTED_ORIGINS = ["https://sales.example.kz"]
    contact = ContactFactory()
    card = f"https://crm.example.kz/admin/contacts/contact/{contact.pk}/change/"

    assert handoffs.admin_link(contact) == card
    assert suspicious.admin_link(contact) == card
    assert suspicious.admin_link() == "https://crm.example.kz/admin/contacts/contact/"


def test_without_either_setting_the_links_are_admin_paths(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.CSRF_TRUSTED_ORIGINS = []
    contact = ContactFactory()

    assert public_base_url() == ""
    assert handoffs.admin_link(contact) == f"/admin/contacts/contact/{contact.pk}/change/"
    assert suspicious.admin_link(contact) == f"/admin/contacts/contact/{contact.pk}/change/"


def test_a_trailing_slash_on_the_origin_does_not_double_the_slash(settings):
    settings.PUBLIC_BASE_URL = ""
    settings.CSRF_TRUSTED_ORIGINS = ["https://sales.example.kz/"]

    assert public_base_url() == "https://sales.example.kz"
