from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def create_token(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_the_command_prints_a_working_token_for_staff_and_the_same_one_again():
    user = get_user_model().objects.create_user("marat", password="not-used-1234", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="contacts", codename="view_contact"))

    key = create_token("marat")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get("/api/contacts").status_code == 200
    assert create_token("marat") == key
    rotated = create_token("marat", "--rotate")
    assert rotated != key
    assert client.get("/api/contacts").status_code == 401


@pytest.mark.parametrize("staff", [False, None])
def test_no_token_for_a_user_who_is_not_staff_or_does_not_exist(staff):
    if staff is not None:
        get_user_model().objects.create_user("guest", password="not-used-1234", is_staff=staff)

    with pytest.raises(CommandError):
        create_token("guest")

    assert not Token.objects.exists()
