"""Booking rules and the follow-up send window against random moments: an accepted slot is a
Monday-to-Friday working slot in Almaty, not a Kazakhstan holiday, not in the past; the next
window opening is inside the window and after the input. Pure functions: no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given
from hypothesis import strategies as st

from calls.booking import BookingRules, free_slots, nearest_free_slots, slot_problem
from messaging.window import SendWindow, in_send_window, next_window_opening, send_time
from tests.system.fuzz.strategies import FUZZ

ALMATY = ZoneInfo("Asia/Almaty")
KZ_HOLIDAYS = holidays.country_holidays("KZ", years=range(2024, 2033))  # an oracle apart from the code's cache
ZONES = [UTC, ALMATY, ZoneInfo("Europe/Moscow"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]

moments = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    # hypothesis bounds are naive by its API; the zone is attached right after.
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31)),  # noqa: DTZ001
    st.sampled_from(ZONES),
)
rules = st.builds(
    lambda start, length, slot, lead, capacity: BookingRules(
        tz=ALMATY,
        start_hour=start,
        end_hour=min(24, start + length),
        slot_minutes=slot,
        min_lead_minutes=lead,
        capacity=capacity,
    ),
    st.integers(6, 12),
    st.integers(1, 12),
    st.sampled_from([15, 20, 30, 60]),
    st.sampled_from([0, 30, 60, 240]),
    st.integers(1, 3),
)
windows = st.builds(
    lambda days, start, length, jitter: SendWindow(
        tz=ALMATY, days=frozenset(days), start_hour=start, end_hour=min(24, start + length), jitter_minutes=jitter
    ),
    st.sets(st.integers(0, 6), min_size=1),
    st.integers(0, 20),
    st.integers(1, 12),
    st.integers(0, 59),
)


def assert_bookable(slot: datetime, rule: BookingRules, now: datetime) -> None:
    local = slot.astimezone(ALMATY)
    assert slot >= now + timedelta(minutes=rule.min_lead_minutes)
    assert local.weekday() < 5, local
    assert local.date() not in KZ_HOLIDAYS, local
    assert time(rule.start_hour) <= local.time()
    assert local + rule.slot <= datetime.combine(local.date(), time(0), tzinfo=ALMATY) + timedelta(hours=rule.end_hour)


@FUZZ
@given(start=moments, now=moments, rule=rules, taken=st.integers(0, 3))
def test_a_slot_the_rules_accept_is_a_working_slot_in_almaty_and_in_the_future(start, now, rule, taken):
    if slot_problem(start, rules=rule, now=now, taken={start: taken}) is None:
        assert_bookable(start, rule, now)
        assert taken < rule.capacity


@FUZZ
@given(now=moments, after=moments, rule=rules)
def test_every_free_slot_offered_is_bookable_later_than_asked_and_in_order(now, after, rule):
    offered = free_slots(rules=rule, now=now, taken={}, after=after, limit=5)
    nearest = nearest_free_slots(rules=rule, now=now, taken={}, around=after, limit=3)

    for slot in offered + nearest:
        assert_bookable(slot, rule, now)
    assert all(slot >= after for slot in offered)
    assert offered == sorted(set(offered))
    assert nearest == sorted(set(nearest))


@FUZZ
@given(moment=moments, window=windows, seed=st.integers(0, 2**32))
def test_the_next_window_opening_is_inside_the_window_and_after_the_moment(moment, window, seed):
    opening = next_window_opening(moment, window=window, rng=random.Random(seed))

    assert opening > moment
    assert in_send_window(opening, window=window)
    assert opening - window.opening(opening.astimezone(ALMATY).date()) <= timedelta(minutes=window.jitter_minutes)


@FUZZ
@given(moment=moments, seed=st.integers(0, 2**32))
def test_a_touch_goes_out_monday_to_friday_10_to_19_in_almaty_never_on_a_holiday(moment, seed):
    window = SendWindow.of(
        tz="Asia/Almaty", days=["mon", "tue", "wed", "thu", "fri"], start_hour=10, end_hour=19, jitter_minutes=7
    )

    at = send_time(moment, window=window, rng=random.Random(seed))

    local = at.astimezone(ALMATY)
    assert at >= moment
    assert local.weekday() < 5
    assert local.date() not in KZ_HOLIDAYS
    assert time(10) <= local.time() < time(19)
    assert in_send_window(at, window=window)
