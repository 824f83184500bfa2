"""Admin brute-force protection (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT wrong passwords
for one username from one address, even the right password is refused for a while."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-horse-battery-1"


@pytest.fixture
def operator(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)


def attempt(client, password, *, ip="198.51.100.7", username="operator"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_after_five_wrong_passwords_the_sixth_try_is_refused_even_with_the_right_one(client, operator, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(4):
        response = attempt(client, "wrong")
        assert response.status_code == 200  # the login form again, with its error
        assert "<title>Ошибка: Войти" in response.content.decode()
    assert attempt(client, "wrong").status_code == 429  # the fifth failure locks

    locked = attempt(client, PASSWORD)

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_the_lockout_page_says_what_happened_and_how_long_to_wait_in_russian(client, operator):
    for _ in range(5):
        attempt(client, "wrong")

    html = attempt(client, PASSWORD).content.decode()

    assert "Вход временно заблокирован" in html
    assert "примерно через 15 мин" in html
    assert "даже с верным паролем" in html
    assert 'href="/admin/login/"' in html
    # It does not tell an attacker whether the last password was the right one.
    assert "неверн" not in html.lower()


def test_the_lock_is_per_address_and_username(client, operator, django_user_model):
    django_user_model.objects.create_user("other", password=PASSWORD, is_staff=True)
    for _ in range(5):
        attempt(client, "wrong")

    # The same operator from another address, and another user from the same address, get in.
    assert attempt(client, PASSWORD, ip="198.51.100.8").status_code == 302
    client.logout()
    assert attempt(client, PASSWORD, username="other").status_code == 302


def test_four_wrong_passwords_then_the_right_one_logs_in_and_resets_the_count(client, operator):
    for _ in range(4):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        attempt(client, "wrong")
    # The success reset the count: four more failures still do not lock.
    assert attempt(client, PASSWORD).status_code == 302
