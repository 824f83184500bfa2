"""The contacts core tells the apps above it what happened through signals; each app's
AppConfig.ready() connects its receivers. A missing connection fails here, loudly."""

from __future__ import annotations

import pytest

from contacts import signals
from tests.dispatch import receivers_of


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (signals.contact_classified, ["followups.stop_when_not_a_client", "ai.record_classification"]),
        (signals.contact_paused, ["followups.stop_when_paused"]),
        (
            signals.contact_forgetting,
            ["followups.forget_contact", "payments.forget_contact", "ai.forget_contact", "evals.forget_contact"],
        ),
        (signals.contact_forgetting_messages, ["messaging.forget_contact"]),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_contact_signal_reaches_exactly_its_receivers_in_order(signal, expected):
    assert receivers_of(signal) == expected
