"""Phone normalisation against random strings: only the documented PhoneError, idempotent, and
every spelling of one Kazakhstan number gives the same digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contacts.phones import PhoneError, normalize_phone, parse_jid
from tests.system.fuzz.strategies import AWKWARD, FUZZ, HAZARDS

SEPARATORS = [" ", "\u00a0", "-", "\u2013", "\u2014", ".", "/", "  "]
phone_like = st.text(alphabet="+0123456789 ()-.@:cusgwhatpnetlid\u00a0\u2013٣²", max_size=30)
digit_runs = st.tuples(
    st.sampled_from(["+7", "7", "8", "+", "00", "", "+7 "]), st.text(alphabet="0123456789", min_size=5, max_size=16)
).map("".join)
anything = st.one_of(st.text(max_size=40), phone_like, digit_runs, st.sampled_from(AWKWARD + HAZARDS))


@FUZZ
@given(value=anything)
def test_a_random_string_normalises_or_raises_phone_error_and_nothing_else(value):
    try:
        phone = normalize_phone(value)
    except PhoneError:
        return
    assert phone.isascii()
    assert phone.isdigit()
    assert 10 <= len(phone) <= 15
    assert not phone.startswith("0")
    assert len(phone) == 11 or not phone.startswith("7")


@FUZZ
@given(value=anything)
def test_normalising_twice_changes_nothing(value):
    try:
        once = normalize_phone(value)
    except PhoneError:
        return
    assert normalize_phone(once) == once
    assert normalize_phone(f"{once}@c.us") == once


@pytest.mark.parametrize("spelled", ["+49 30 123456", "+3000000000", "00 46 812345 67"])
def test_a_stored_ten_digit_foreign_number_normalises_to_itself(spelled):
    once = normalize_phone(spelled)
    assert normalize_phone(once) == once


@FUZZ
@given(value=anything)
def test_parse_jid_raises_only_phone_error(value):
    try:
        parse_jid(value)
    except PhoneError:
        pass


# Kazakhstan: +7 then a 10-digit national number starting with 7 (mobile 70x/747/77x, cities 7xx; the
# +7 6xx range allotted to Kazakhstan is not in use, and a bare 10-digit 6... is a foreign number).
kz_national = st.tuples(st.just("7"), st.text(alphabet="0123456789", min_size=9, max_size=9)).map("".join)


@st.composite
def spellings(draw, national: str) -> str:
    """One way a person, a form or WhatsApp writes +7 <national>."""
    sep = draw(st.sampled_from(SEPARATORS))
    groups = [national[:3], national[3:6], national[6:8], national[8:]]
    spaced = sep.join(groups)
    bracketed = f"({national[:3]}){sep}{sep.join(groups[1:])}"
    prefix = draw(st.sampled_from(["+7", "8", "7", "", "00 7", "+7 ", "8 ", "007"]))
    body = draw(st.sampled_from([national, spaced, bracketed]))
    if prefix in ("7", "") and body != national:
        prefix = draw(st.sampled_from(["+7", "8"]))  # "7 701 ..." is read as domestic only unspaced
    spelled = f"{prefix}{sep if prefix and draw(st.booleans()) else ''}{body}"
    return draw(
        st.sampled_from(
            [
                spelled,
                f"  {spelled}\t",
                f"7{national}@c.us",
                f"7{national}@s.whatsapp.net",
                f"7{national}:{draw(st.integers(0, 99))}@s.whatsapp.net",
            ]
        )
    )


@FUZZ
@given(data=st.data(), national=kz_national)
def test_every_spelling_of_a_kazakhstan_number_gives_the_same_digits(data, national):
    spelled = data.draw(spellings(national))

    assert normalize_phone(spelled) == f"7{national}", spelled


@pytest.mark.parametrize("value", ["120363025246125486@g.us", "status@broadcast", "123@lid", "1@newsletter"])
def test_ids_that_are_not_people_raise_the_documented_error(value):
    with pytest.raises(PhoneError):
        normalize_phone(value)
