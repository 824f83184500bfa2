from __future__ import annotations

import pytest

from contacts.phones import InvalidPhoneError, JidKind, NotAPhoneError, format_phone, normalize_phone, parse_jid


@pytest.mark.parametrize(
    "raw",
    [
        "+7 (701) 234-56-78",
        "87012345678",
        "7 701 234 5678",
        "77012345678",
        "+77012345678",
        "8 (701) 234 56 78",
        "701 234 56 78",
        "007 701 234 56 78",
        "77012345678@c.us",
        "77012345678@s.whatsapp.net",
        "77012345678:12@s.whatsapp.net",
        " 77012345678@C.US ",
        "+7\u00a0701\u00a0234\u201156\u201178",
    ],
)
def test_every_spelling_of_one_number_normalises_to_the_same_digits(raw):
    assert normalize_phone(raw) == "77012345678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+998 90 123 45 67", "998901234567"),  # Uzbekistan keeps its country code
        ("+49 30 1234567", "49301234567"),
        ("79115576362@c.us", "79115576362"),  # the spec's Russian example
        ("+86 138 0013 8000", "8613800138000"),  # a "+8" number is not rewritten as +7
    ],
)
def test_international_numbers_keep_their_country_code(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("120363025246125486@g.us", JidKind.GROUP),
        ("77012345678-1600000000@g.us", JidKind.GROUP),
        ("159876543210987@lid", JidKind.LID),
        ("status@broadcast", JidKind.BROADCAST),
        ("120363165123456789@newsletter", JidKind.NEWSLETTER),
    ],
)
def test_groups_hidden_ids_and_broadcasts_are_recognised_as_not_a_phone(raw, kind):
    assert parse_jid(raw).kind is kind
    with pytest.raises(NotAPhoneError) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.kind is kind


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "+7 701 ABC 56 78",
        "12345",
        "7701234567890",
        "+",
        "@c.us",
        "@g.us",
        "7701@example.com",
        "0123456789012",
        "٧٧٠١٢٣٤٥٦٧٨",
    ],
)
def test_garbage_raises_a_clear_validation_error(raw):
    with pytest.raises(InvalidPhoneError, match="not a"):
        normalize_phone(raw)


def test_a_plus7_number_with_a_digit_missing_is_rejected_not_guessed():
    with pytest.raises(InvalidPhoneError, match="11 digits"):
        normalize_phone("+7 701 234 56 7")


def test_phone_is_formatted_for_people():
    assert format_phone("77012345678") == "+7 701 234 56 78"
    assert format_phone("998901234567") == "+998901234567"
