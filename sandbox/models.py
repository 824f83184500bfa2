"""The sandbox's tables, one module per emulator; Django finds the app's models here."""

from __future__ import annotations

from sandbox.kaspi.models import SandboxInvoice
from sandbox.wappi.models import SandboxChat, SandboxMessage, SandboxProfile

__all__ = ["SandboxChat", "SandboxInvoice", "SandboxMessage", "SandboxProfile"]
