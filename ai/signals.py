"""What the model library tells the apps above it."""

from __future__ import annotations

from django.dispatch import Signal

# A customer's voice note has been transcribed and its transcript stored: it can now be read
# like a text message. Sent after the commit. Sender: Message. Arguments: message_id.
transcript_ready = Signal()
