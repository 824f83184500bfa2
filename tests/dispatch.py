"""Reading Django signals in tests: which receivers a signal will call, in order."""

from __future__ import annotations

from django.dispatch import Signal


def receivers_of(signal: Signal) -> list[object]:
    """The dispatch_uid of each receiver connected to `signal`, in the order they run. A
    receiver connected without a dispatch_uid shows as Django's numeric id of the function,
    which no expected list names."""
    return [lookup_key[0] for lookup_key, _receiver, _is_async in signal.receivers]
