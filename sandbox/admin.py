"""The sandbox's admin, kept with the app (backoffice, a product app, never imports the sandbox)."""

from __future__ import annotations

from sandbox.kaspi import admin as kaspi_admin
from sandbox.wappi import admin as wappi_admin

__all__ = ["kaspi_admin", "wappi_admin"]
