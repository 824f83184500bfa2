"""The model library announces a stored transcript; the assistant answers it."""

from __future__ import annotations

from ai import signals
from tests.dispatch import receivers_of


def test_a_stored_transcript_reaches_exactly_the_assistant():
    assert receivers_of(signals.transcript_ready) == ["assistant.answer_transcript"]
