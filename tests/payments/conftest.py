from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _payment_settings(payment_settings):
    """Every payments test runs with the product's payment defaults (tests/fixtures.py)."""
