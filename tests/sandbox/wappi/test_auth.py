"""The emulator checks credentials like Wappi: the raw token in Authorization, profile_id in the query."""

from __future__ import annotations

import pytest

from tests.sandbox.wappi.conftest import WappiCaller


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "", "wrong-token", "Bearer sandbox-token"])
def test_a_missing_or_wrong_token_answers_401_invalid_token(client, token):
    response = WappiCaller(client, token=token).get("api/sync/get/status")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token", "status": "error"}


@pytest.mark.django_db
@pytest.mark.parametrize("profile_id", [None, "", "71ad40e9-b023"])
def test_a_missing_or_unknown_profile_answers_400_profile_not_found(client, profile_id):
    response = WappiCaller(client, profile_id=profile_id).post(
        "api/sync/message/send", {"body": "x", "recipient": "77011234567"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Profile not found", "status": "error"}


@pytest.mark.django_db
def test_a_wrong_token_is_reported_before_a_wrong_profile(client):
    response = WappiCaller(client, token="nope", profile_id="nope").get("api/webhook/url/get")
    assert response.status_code == 401


def test_the_right_credentials_get_an_authorised_open_profile(wappi):
    response = wappi.get("api/sync/get/status")
    assert response.status_code == 200
    status = response.json()
    assert status["authorized"] is True
    assert status["app_status"] == "open"
    assert status["profile_id"] == status["uuid"] == "sandbox-0001"
    assert status["webhook_types"] == ["authorization_status", "incoming_message", "delivery_status"]


def test_a_failed_auth_creates_nothing(client, db):
    from sandbox.wappi.models import SandboxMessage

    WappiCaller(client, token="nope").post("api/sync/message/send", {"body": "x", "recipient": "77011234567"})
    assert not SandboxMessage.objects.exists()


def test_a_wrong_method_answers_405_and_an_unknown_path_a_json_404(wappi):
    assert wappi.get("api/sync/message/send").status_code == 405
    response = wappi.get("api/sync/no/such/method")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
