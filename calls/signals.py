"""What the call services tell the apps beside and above them (domain services do not import
each other). Connected in each receiving app's AppConfig.ready()."""

from __future__ import annotations

from django.dispatch import Signal

# A customer booked a call with a manager (sent inside the booking's transaction: a receiver's
# writes commit or roll back with the call). Sender: ScheduledCall. Arguments: contact, call, now.
call_booked = Signal()
