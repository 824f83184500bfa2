"""The sandbox's fixed credentials, as the product's Wappi client knows them."""

from __future__ import annotations

try:
    from messaging.wappi import SANDBOX_PROFILE_ID, SANDBOX_TOKEN
except ImportError:  # the client module is not there yet: the same published values
    SANDBOX_TOKEN, SANDBOX_PROFILE_ID = "sandbox-token", "sandbox-0001"

__all__ = ["SANDBOX_PROFILE_ID", "SANDBOX_TOKEN"]
