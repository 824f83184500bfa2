"""What the contacts core tells the apps above it. The core may not import them (it is the
lowest layer), so it announces; each app connects its receivers in its AppConfig.ready().

All of these are sent synchronously inside the caller's transaction: a receiver's writes
commit or roll back with the contact's, and a receiver that raises undoes the whole change.
"""

from __future__ import annotations

from django.dispatch import Signal

# A verdict on a contact was recorded (not sent when the model's verdict is ignored because an
# operator decided). Sender: Contact. Arguments: contact, is_client (True / False / None for
# "not enough data yet"), by ("operator" or "model"), confidence (float or None), reasoning,
# request_type ("" when the verdict named none), model_call_id (int or None), now,
# forced_at (datetime or None) and forced_by (a user or None): for a model's verdict an
# operator forced (re-classify: the model decides again, even over an operator's verdict),
# when it was asked for and by whom (None when not known); both None for any other verdict.
contact_classified = Signal()

# A human took the conversation over: the bot stays silent. Sender: Contact. Arguments:
# contact, until (datetime, or None for "until an operator resumes it"), now.
contact_paused = Signal()

# A contact is being erased (contacts.forget.contact_forget), first stage: while its messages
# still exist, each app erases or anonymises its own rows about the contact (including rows
# that hang off the contact's messages, such as follow-up touches and pending replies) and
# adds how many it touched to `counts`. Sender: Contact. Arguments: contact, phone (its
# normalised number), needles (every spelling of the number to scrub from kept text, longest
# first; contacts.forget.redact replaces them), counts (dict[str, int] to add to).
contact_forgetting = Signal()

# Second stage of erasing a contact, after contact_forgetting: the conversation itself goes,
# and notices that named the contact are scrubbed. Same arguments.
contact_forgetting_messages = Signal()
