"""Behind a reverse proxy: only the proxies named in FORWARDED_ALLOW_IPS are believed. The admin
login lockout (django-axes) keys on the real client's address that the proxy reports in
X-Forwarded-For, so one attacker does not lock out everyone behind the proxy; a client connecting
directly cannot choose its address (X-Forwarded-For) or the scheme (X-Forwarded-Proto)."""

from __future__ import annotations

import pytest
import requests

from tests.processes import gunicorn_server, server_env

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct-horse-battery-1"
PROXY = "10.0.0.5"


@pytest.fixture
def operator(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    settings.FORWARDED_ALLOW_IPS = [PROXY, "127.0.0.1"]
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True, is_superuser=True)


def attempt(client, password, *, peer, forwarded_for=None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return client.post(LOGIN, {"username": "operator", "password": password}, REMOTE_ADDR=peer, **headers)


def test_behind_the_proxy_the_lockout_is_by_the_real_clients_address(client, operator):
    for _ in range(5):
        attempt(client, "wrong", peer=PROXY, forwarded_for="198.51.100.7")
    assert attempt(client, PASSWORD, peer=PROXY, forwarded_for="198.51.100.7").status_code == 429

    # The operator, from another address through the same proxy, still gets in.
    assert attempt(client, PASSWORD, peer=PROXY, forwarded_for="198.51.100.8").status_code == 302


def test_behind_the_proxy_a_client_cannot_escape_the_lockout_by_sending_its_own_forwarded_for(client, operator):
    # The proxy appends the address it saw: whatever the client wrote is to the left of it.
    for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        attempt(client, "wrong", peer=PROXY, forwarded_for=f"{fake}, 198.51.100.7")

    assert attempt(client, PASSWORD, peer=PROXY, forwarded_for="6.6.6.6, 198.51.100.7").status_code == 429


def test_a_direct_client_cannot_choose_its_address_with_x_forwarded_for(client, operator):
    for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"):
        attempt(client, "wrong", peer="203.0.113.9", forwarded_for=fake)

    assert attempt(client, PASSWORD, peer="203.0.113.9", forwarded_for="198.51.100.99").status_code == 429
    # Nor lock out somebody else by naming their address.
    assert attempt(client, PASSWORD, peer="198.51.100.7").status_code == 302


@pytest.fixture
def web_env(tmp_path):
    return server_env(tmp_path, SECURE_SSL_REDIRECT="true")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("allowed", "status"),
    [("10.0.0.5", 301), ("", 200), ("127.0.0.1,10.0.0.0/8", 200)],
    ids=["direct-client-redirected-to-https", "local-proxy-by-default", "listed-proxy"],
)
def test_gunicorn_believes_x_forwarded_proto_only_from_a_listed_proxy(web_env, allowed, status):
    """SECURE_SSL_REDIRECT sends plain-HTTP requests to https: a client that is not a listed proxy
    claiming `X-Forwarded-Proto: https` is still redirected; a listed proxy (127.0.0.1 here) is believed."""
    with gunicorn_server(env={**web_env, "FORWARDED_ALLOW_IPS": allowed}) as web:
        answer = requests.get(
            f"{web.url}/admin/login/", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False, timeout=10
        )

    assert answer.status_code == status
    if status == 301:
        assert answer.headers["Location"].startswith("https://")
