"""Hypothesis settings and strategies shared by the fuzz tests.

Deterministic on purpose: `derandomize=True` derives the examples from the test itself, so CI
and a developer see the same cases, and no example database is written. The example counts
keep the whole fuzz suite well under a minute.

`hazards=True` strategies add the inputs that once crashed the parser or the ingest (NUL
characters, lone surrogates, over-long ids and types, unusual digits and huge numbers in time
fields); the tests use them, and `hazards=False` remains for a property that needs plain input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_SUPPRESSED = [
    HealthCheck.function_scoped_fixture,  # the db / client fixtures are reset per example by hand
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
]
# Pure functions: cheap, so many examples.
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=_SUPPRESSED)
# Database and HTTP round trips per example: fewer.
FUZZ_DB = settings(FUZZ, max_examples=40)
FUZZ_HTTP = settings(FUZZ, max_examples=15)

# Text a customer (or a broken client) can produce: RTL and bidi controls, emoji sequences,
# Kazakh letters, zero-width characters, digits of other scripts, JSON-looking words.
AWKWARD = [
    "",
    " ",
    "\n\t",
    "مرحبا، كم السعر؟",
    "שלום",
    "\u202eпотс\u202c",
    "👍🏽",
    "👨‍👩‍👧‍👦 🇰🇿",
    "\u200b\u200d\ufeff",
    "Сәлеметсіз бе! Қанша тұрады?",
    "²",
    "٣٤٥",
    "null",
    "None",
    "true",
    "1e400",
    "<script>alert(1)</script>",
    "'; DROP TABLE messaging_message; --",
    "%s%n{0}",
]
# What the database cannot store as text (the parser cleans it: messaging.wire.clean_text).
HAZARDS = ["\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d"]

clean_text = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=60),
)
any_text = st.one_of(clean_text, st.sampled_from(HAZARDS), st.text(max_size=20).map(lambda s: s + "\x00"))


def texts(*, hazards: bool) -> st.SearchStrategy[str]:
    return any_text if hazards else clean_text


def scalars(*, hazards: bool) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63),
        st.floats(allow_nan=True, allow_infinity=True),
        texts(hazards=hazards),
    )


def json_values(*, hazards: bool) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars(hazards=hazards),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )


PHONES = ["77012345678", "77025550101", "77475550202", "79161234567"]
# Chat ids of people in every spelling Wappi (or a broken client) uses, and of everything else.
CHAT_IDS = [
    *(f"{p}@c.us" for p in PHONES),
    "77012345678@s.whatsapp.net",
    "77012345678:12@s.whatsapp.net",
    "77012345678",
    "+7 701 234 56 78",
    "120363025246125486@g.us",
    "status@broadcast",
    "1234567890123@lid",
    "120363@newsletter",
    "@c.us",
    "abc@c.us",
    "77012345678@example.org",
    "",
]
WH_TYPES = [
    "incoming_message",
    "outgoing_message_phone",
    "outgoing_message_api",
    "delivery_status",
    "messages_status",
    "authorization_status",
    "",
    "something_new",
]
MSG_TYPES = ["chat", "text", "ptt", "audio", "image", "video", "document", "sticker", "reaction", "revoked", "CHAT"]
# Well-formed times in both of Wappi's shapes, and junk that must fall back to "now".
SAFE_TIMES = [
    1795410000,
    1795410000123,
    "1795410000",
    "2026-11-23T10:00:00+05:00",
    "2026-11-23T05:00:00.957011925Z",
    0,
    -1,
    1e400,
    float("nan"),
    "yesterday",
    "",
    None,
    True,
    [],
    {},
]
# Times that once crashed the parser: digits str.isdigit accepts but float does not, and integers
# beyond a float's range.
HAZARD_TIMES = ["²", "1²", 10**400]

# A small pool, so batches repeat ids (duplicates, webhook and poll racing, echoes).
_ID_ALPHABET = "0123456789ABCDEF"
ids = st.one_of(
    st.sampled_from(["3EB0A1", "3EB0A2", "3EB0A3", "3EB0A4", "wamid.HBgL", "false_7701@c.us_3EB0"]),
    st.text(alphabet=_ID_ALPHABET, min_size=1, max_size=24),
)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_MISSING), strategy)


_MISSING = object()


def wappi_events(*, hazards: bool) -> st.SearchStrategy[dict[str, Any]]:
    """One webhook event (or messages/get object): every key optional, each value mostly of the
    right kind, sometimes of any JSON type."""
    junk = json_values(hazards=hazards)
    # An id or type of the wrong JSON type is str()-ed by the parser: a nested value's repr can
    # outgrow the column, which is a hazard of its own.
    short_junk = junk if hazards else scalars(hazards=False).filter(lambda v: len(str(v)) <= 32)
    text = texts(hazards=hazards)
    times = st.sampled_from(SAFE_TIMES + (HAZARD_TIMES if hazards else []))
    event_ids = st.one_of(ids, st.text(min_size=129, max_size=200)) if hazards else ids
    msg_types = st.sampled_from(MSG_TYPES) | (st.text(min_size=33, max_size=40) if hazards else st.nothing())
    fields = {
        "wh_type": st.sampled_from(WH_TYPES) | junk,
        "id": event_ids | short_junk,
        "type": msg_types | short_junk,
        "body": text | st.fixed_dictionaries({"caption": text}) | junk,
        "caption": st.none() | text,
        "from": st.sampled_from(CHAT_IDS) | junk,
        "to": st.sampled_from(CHAT_IDS),
        "chatId": st.sampled_from(CHAT_IDS) | junk,
        "time": times,
        "timestamp": times,
        "is_me": st.booleans() | st.sampled_from(["true", "false", 1, 0]),
        "fromMe": st.booleans() | st.sampled_from(["true", 1]),
        "from_where": st.sampled_from(["phone", "api", ""]),
        "chat_type": st.sampled_from(["dialog", "group", ""]) | junk,
        "senderName": text | junk,
        "contact_name": text,
        "contact": st.fixed_dictionaries({"FullName": text, "PushName": text}) | junk,
        "status": st.sampled_from(["delivered", "read", "played", "error", "online", "offline", "?"]) | junk,
        "isReply": st.booleans(),
        "stanzaId": ids,
        "file_link": st.sampled_from(["", "https://fs.wappi.pro/v.ogg"]),
    }
    return st.fixed_dictionaries({key: _optional(value) for key, value in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not _MISSING}
    )


def envelopes(items: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    """Every envelope shape Wappi uses around a list of events."""
    return items.flatmap(
        lambda events: st.sampled_from(
            [
                {"messages": events},
                events,
                *([{"messages": events[0]}, events[0]] if events and isinstance(events[0], dict) else []),
            ]
        )
    )


@contextmanager
def structured_logs() -> Iterator[list[dict[str, Any]]]:
    """The structlog event dicts logged meanwhile (any logger, INFO and up). A handler of its
    own rather than caplog, whose records hypothesis would share across examples."""
    records: list[dict[str, Any]] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if isinstance(record.msg, dict):
                records.append({**record.msg, "level": record.levelname.lower()})

    handler = _Collect(level=logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield records
    finally:
        root.removeHandler(handler)
