"""The sandbox's rows are visible (and the fault switches editable) in the admin."""

from __future__ import annotations

import pytest

from sandbox.wappi.models import SandboxChat, SandboxMessage, SandboxProfile


@pytest.mark.parametrize("model", ["sandboxprofile", "sandboxchat", "sandboxmessage"])
def test_the_admin_lists_sandbox_rows(admin_client, customer, model):
    customer("77011234567", "Привет", name="Айгерим")
    assert admin_client.get(f"/admin/sandbox/{model}/").status_code == 200


def test_the_admin_opens_each_sandbox_row(admin_client, wappi, customer):
    customer("77011234567", voice=True)
    wappi.send("77011234567", "Ответ бота")
    pages = [
        f"/admin/sandbox/sandboxprofile/{SandboxProfile.objects.get().pk}/change/",
        f"/admin/sandbox/sandboxchat/{SandboxChat.objects.get().pk}/change/",
        *(f"/admin/sandbox/sandboxmessage/{m.pk}/change/" for m in SandboxMessage.objects.all()),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert "песочниц" in response.content.decode()


def test_fault_switches_can_be_set_in_the_admin(admin_client, wappi):
    wappi.get("api/sync/get/status")
    profile = SandboxProfile.objects.get()

    response = admin_client.post(
        f"/admin/sandbox/sandboxprofile/{profile.pk}/change/",
        {
            "name": "Sandbox",
            "phone": "77000000000",
            "webhook_url": "",
            "webhook_auth": "",
            "webhook_types": '["incoming_message"]',
            "media_mode": "b64",
            "failing_chats": '["77011234567"]',
            "fail_next_count": "0",
            "fail_status": "502",
            "send_delay_seconds": "0",
        },
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.media_mode == "b64"
    assert profile.failing_chats == ["77011234567"]
