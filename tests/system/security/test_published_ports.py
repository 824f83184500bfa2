"""docker-compose.yml publishes nothing on all interfaces by default: the web server and Flower
listen on the host's loopback, for a reverse proxy (TLS, basic auth) to expose. The README says
how, and names the variables that publish elsewhere."""

from __future__ import annotations

import re

import yaml

from tests.processes import ROOT

LOOPBACK = {"127.0.0.1", "[::1]", "::1"}


def published(service: dict) -> list[str]:
    """The host address of each published port, `${VAR:-default}` read as its default."""
    addresses = []
    for port in service.get("ports", []):
        text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(port))
        parts = text.rsplit(":", 2)
        addresses.append(parts[0] if len(parts) == 3 else "0.0.0.0")  # noqa: S104 - what we look for
    return addresses


def test_no_service_publishes_on_all_interfaces_by_default():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))

    exposed = {
        name: address
        for name, service in compose["services"].items()
        for address in published(service)
        if address not in LOOPBACK
    }

    assert exposed == {}


def test_the_readme_tells_how_to_put_flower_and_the_web_server_behind_the_proxy():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--url_prefix" in readme
    assert "FLOWER_BIND" in readme
    assert "WEB_BIND" in readme
