"""The runner: who gets a touch, when, and never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command

from ai.rules.texts import fixed_text
from followups.models import FollowUp, FollowUpTouch
from followups.runner import IN_FLIGHT_RECHECK, MODEL_RETRY, followups_run_due
from followups.services import followup_after_bot_message
from messaging.models import Message
from messaging.sender import outbox_send
from messaging.services import message_enqueue_outbound
from tests.factories import (
    ClientFactory,
    InboundMessageFactory,
    OutboundMessageFactory,
    ScheduledCallFactory,
    WhitelistEntryFactory,
    local,
    silent_client,
)
from tests.followups.conftest import follow_up_messages

pytestmark = pytest.mark.django_db


def deliver(fake_wappi, message: Message) -> Message:
    """What the sender does with a queued touch: send it through (fake) Wappi, then the hook
    that moves the chain on (idempotent, so harmless if the sender already called it)."""
    assert outbox_send(message_id=message.pk, client=fake_wappi.client()).status == "sent"
    message.refresh_from_db()
    followup_after_bot_message(message=message)
    return message


def test_a_silent_client_gets_exactly_five_touches_at_the_right_times_and_then_none(fake_wappi, settings, rng):
    settings.FOLLOW_UP_JITTER_MINUTES = 0  # exact times; the jitter has its own tests
    contact = ClientFactory(phone="77015550101")
    with time_machine.travel(local(2026, 12, 7, 10, 55), tick=False) as clock:
        InboundMessageFactory(contact=contact, text="Здравствуйте, сколько стоит доставка воды?")
        clock.move_to(local(2026, 12, 7, 11, 0))
        reply = message_enqueue_outbound(contact=contact, text="Здравствуйте! Сколько бутылей нужно? 😊")
        deliver(fake_wappi, reply)  # the bot answered on Monday at 11:00; the client went silent

        sent_at = []
        probes = [
            local(2026, 12, 8, 10, 59),  # a minute before touch 1: nothing
            local(2026, 12, 8, 11, 0),  # touch 1: 24 h after the reply
            local(2026, 12, 11, 10, 59),
            local(2026, 12, 11, 11, 0),  # touch 2: 72 h after touch 1
            local(2026, 12, 18, 11, 0),  # touch 3: 168 h after touch 2
            local(2027, 1, 1, 11, 0),  # touch 4 is due on New Year's Day: it waits
            local(2027, 1, 4, 11, 0),  # Monday 4 January is the holiday observed: still waiting
            local(2027, 1, 5, 10, 0),  # Tuesday's window opening
            local(2027, 2, 4, 10, 0),  # touch 5: 720 h after touch 4
            local(2027, 3, 8, 11, 0),  # a month later: nothing, ever
            local(2027, 6, 1, 11, 0),
        ]
        for moment in probes:
            clock.move_to(moment)
            report = followups_run_due(rng=rng)
            for row in report.sent:
                message = deliver(fake_wappi, Message.objects.get(pk=row.message_id))
                sent_at.append((row.touch_number, message.sent_at))
            if moment == local(2027, 1, 1, 11, 0):
                [deferred] = report.deferred
                assert (deferred.until, deferred.reason) == (local(2027, 1, 5, 10, 0), "outside the send window")

    assert sent_at == [
        (1, local(2026, 12, 8, 11, 0)),
        (2, local(2026, 12, 11, 11, 0)),
        (3, local(2026, 12, 18, 11, 0)),
        (4, local(2027, 1, 5, 10, 0)),
        (5, local(2027, 2, 4, 10, 0)),
    ]
    touches = list(follow_up_messages(contact))
    assert [m.status for m in touches] == ["sent"] * 5
    assert [m.purpose for m in touches] == ["follow_up"] * 5
    assert len({m.text for m in touches}) == 5  # five different touches, in the touch's style
    assert "Понимаю, что сейчас, возможно, не самое подходящее время" in touches[-1].text
    assert len(fake_wappi.sent) == 6  # the reply and five touches went out through WhatsApp
    followup = FollowUp.objects.get(contact=contact)
    assert (followup.is_completed, followup.stop_reason) == (True, "completed_5_touches")
    assert followup.last_touch_at == local(2027, 2, 4, 10, 0)


@pytest.mark.parametrize(
    ("due", "opening"),
    [
        (local(2026, 12, 8, 2, 0), local(2026, 12, 8, 10, 0)),  # 02:00 on a Tuesday
        (local(2026, 12, 12, 12, 0), local(2026, 12, 14, 10, 0)),  # Saturday noon
        (local(2026, 12, 16, 12, 0), local(2026, 12, 17, 10, 0)),  # 16 December, Independence Day
        (local(2026, 12, 7, 19, 0), local(2026, 12, 8, 10, 0)),  # 19:00, the window's end
    ],
)
def test_a_touch_due_outside_the_window_goes_out_at_the_next_opening_with_a_few_minutes_jitter(due, opening, rng):
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False) as clock:
        report = followups_run_due(rng=rng)
        [deferred] = report.deferred
        assert opening <= deferred.until <= opening + timedelta(minutes=7)
        assert not follow_up_messages().exists()

        clock.move_to(opening - timedelta(minutes=1))
        assert followups_run_due(rng=rng).sent == []
        clock.move_to(deferred.until)
        [sent] = followups_run_due(rng=rng).sent
    touch = Message.objects.get(pk=sent.message_id)
    assert (touch.contact_id, touch.purpose, touch.timestamp) == (followup.contact_id, "follow_up", deferred.until)


def test_the_daily_cap_holds_and_the_rest_wait_for_the_next_window(settings, rng):
    settings.PROACTIVE_DAILY_LIMIT = 3
    due = local(2026, 12, 8, 11, 0)
    earlier = silent_client(due=due - timedelta(hours=1))
    waiting = [silent_client(due=due) for _ in range(4)]
    with time_machine.travel(due - timedelta(hours=1), tick=False) as clock:
        assert len(followups_run_due(rng=rng).sent) == 1  # one proactive message earlier today
        clock.move_to(due)
        report = followups_run_due(rng=rng)
        assert len(report.sent) == 2
        capped = [d for d in report.deferred if d.reason == "daily cap of proactive messages"]
        assert {d.followup_id for d in capped} == {f.pk for f in waiting[2:]}
        for deferred in capped:
            assert local(2026, 12, 9, 10, 0) <= deferred.until <= local(2026, 12, 9, 10, 7)
        clock.move_to(local(2026, 12, 8, 18, 0))
        assert followups_run_due(rng=rng).sent == []  # still today: nothing more
        clock.move_to(local(2026, 12, 9, 10, 10))
        assert len(followups_run_due(rng=rng).sent) == 2
    assert follow_up_messages().count() == 5
    assert {m.contact_id for m in follow_up_messages()} == {f.contact_id for f in [earlier, *waiting]}


def _opted_out(f):
    f.contact.opted_out_at = f.next_touch_at - timedelta(hours=2)
    f.contact.save()


def _operator(f):
    f.contact.bot_mode = "human"
    f.contact.save()


def _booked(f):
    ScheduledCallFactory(contact=f.contact, scheduled_at=f.next_touch_at + timedelta(days=1))


def _not_a_client(f):
    f.contact.is_client = False
    f.contact.save()


def _personal_number(f):
    WhitelistEntryFactory(phone=f.contact.phone)


def _client_wrote(f):
    InboundMessageFactory(contact=f.contact, text="Спасибо, я подумаю", timestamp=f.next_touch_at - timedelta(hours=3))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_opted_out, "opted_out"),
        (_operator, "human_took_over"),
        (_booked, "client_said_yes"),
        (_not_a_client, "not_a_client"),
        (_personal_number, "not_a_client"),
        (_client_wrote, "client_responded"),
    ],
    ids=["opt-out", "human-mode", "booked-call", "is_client-false", "whitelisted", "client-wrote"],
)
def test_the_runner_rechecks_at_send_time_and_stops_the_chain(change, reason, rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due, touch_number=2)
    change(followup)
    with time_machine.travel(due, tick=False):
        report = followups_run_due(rng=rng)
    assert [(s.followup_id, s.reason) for s in report.stopped] == [(followup.pk, reason)]
    assert not follow_up_messages().exists()
    followup.refresh_from_db()
    assert (followup.is_completed, followup.stop_reason, followup.next_touch_at) == (True, reason, None)


def test_a_past_call_does_not_stop_the_chain(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    ScheduledCallFactory(contact=followup.contact, scheduled_at=due - timedelta(days=3), status="completed")
    with time_machine.travel(due, tick=False):
        assert len(followups_run_due(rng=rng).sent) == 1


def test_the_minimum_gap_after_our_last_message_defers_the_touch(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    OutboundMessageFactory(  # an operator wrote to the client this morning
        contact=followup.contact,
        author="operator",
        status="sent",
        text="Добрый день, это Алия",
        timestamp=local(2026, 12, 8, 9, 0),
    )
    with time_machine.travel(due, tick=False):
        report = followups_run_due(rng=rng)
    [deferred] = report.deferred
    assert deferred.reason == "minimum gap since our last message"
    # 09:00 + 20 h is 05:00 on Wednesday: the window opens at 10:00.
    assert local(2026, 12, 9, 10, 0) <= deferred.until <= local(2026, 12, 9, 10, 7)


def test_the_touch_is_queued_with_purpose_follow_up_and_an_idempotency_key_per_touch(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due, touch_number=3)
    with time_machine.travel(due, tick=False):
        [sent] = followups_run_due(rng=rng).sent
    touch = Message.objects.get(pk=sent.message_id)
    assert (touch.direction, touch.author, touch.purpose, touch.status) == ("out", "bot", "follow_up", "queued")
    assert touch.idempotency_key == f"followup:{followup.pk}:touch:3"
    assert FollowUpTouch.objects.get(message=touch).touch_number == 3
    followup.refresh_from_db()
    # In flight: the sender's hook sets touch 4's time once this one is sent.
    assert (followup.touch_number, followup.last_touch_at) == (3, due)
    assert followup.next_touch_at == due + IN_FLIGHT_RECHECK


def test_a_touch_still_in_flight_is_never_queued_twice(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False) as clock:
        [sent] = followups_run_due(rng=rng).sent
        # The row is made due again (an operator's "send now", a lost update): still one message.
        FollowUp.objects.filter(pk=followup.pk).update(next_touch_at=due)
        clock.move_to(due + timedelta(minutes=1))
        report = followups_run_due(rng=rng)
    assert report.sent == []
    assert [d.reason for d in report.deferred] == ["touch 1 still being sent"]
    assert list(follow_up_messages().values_list("pk", flat=True)) == [sent.message_id]


def test_the_idempotency_key_returns_the_first_message_instead_of_a_second(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False):
        [sent] = followups_run_due(rng=rng).sent
        again = message_enqueue_outbound(
            contact=followup.contact,
            text="другой текст",
            purpose=Message.Purpose.FOLLOW_UP,
            idempotency_key=f"followup:{followup.pk}:touch:1",
        )
    assert again.pk == sent.message_id
    assert follow_up_messages().count() == 1


def test_a_sent_touch_whose_hook_was_missed_moves_the_chain_on_without_a_second_message(fake_wappi, rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False) as clock:
        [sent] = followups_run_due(rng=rng).sent
        outbox_send(message_id=sent.message_id, client=fake_wappi.client())  # the hook never ran
        clock.move_to(due + IN_FLIGHT_RECHECK)
        report = followups_run_due(rng=rng)
    assert report.sent == []
    followup.refresh_from_db()
    assert (followup.touch_number, followup.next_touch_at) == (2, due + timedelta(hours=72))
    assert follow_up_messages().count() == 1


def test_a_touch_that_failed_to_send_stops_the_chain_instead_of_hanging(fake_wappi, rng):
    due = local(2026, 12, 8, 11, 0)
    silent_client(due=due)
    with time_machine.travel(due, tick=False) as clock:
        [sent] = followups_run_due(rng=rng).sent
        fake_wappi.fail_next = [400]
        assert outbox_send(message_id=sent.message_id, client=fake_wappi.client()).status == "failed"
        clock.move_to(due + IN_FLIGHT_RECHECK)
        report = followups_run_due(rng=rng)
    assert [s.reason for s in report.stopped] == ["send_failed"]
    assert follow_up_messages().count() == 1


def test_follow_ups_switched_off_send_nothing(settings, rng):
    settings.ENABLE_FOLLOW_UPS = False
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    with time_machine.travel(due, tick=False):
        report = followups_run_due(rng=rng)
    assert (report.sent, report.deferred, report.stopped) == ([], [], [])
    followup.refresh_from_db()
    assert followup.next_touch_at == due  # waits, untouched, for follow-ups to be on again


def test_a_model_outage_makes_the_touch_wait_and_no_fallback_is_sent(fake_gemini, rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    for _ in range(3):  # the SDK's attempts
        fake_gemini.reply_error(503)
    with time_machine.travel(due, tick=False):
        report = followups_run_due(rng=rng)
    assert [(d.until, d.reason) for d in report.deferred] == [(due + MODEL_RETRY, "model unavailable")]
    assert not follow_up_messages().exists()
    followup.refresh_from_db()
    assert (followup.is_completed, followup.next_touch_at) == (False, due + MODEL_RETRY)


def test_the_follow_up_request_to_gemini_carries_the_touch_number_and_the_real_conversation(fake_gemini, rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due, touch_number=2)
    fake_gemini.reply_text("**Здравствуйте!** Мы подберём график доставки под ваш офис ✅ Рассказать подробнее?")
    with time_machine.travel(due, tick=False):
        [sent] = followups_run_due(rng=rng).sent

    body = fake_gemini.last_request().camel
    system = body["systemInstruction"]["parts"][0]["text"]
    assert "КАСАНИЕ #2 из 5" in system
    assert "Касание: #2 из 5" in system
    assert "{touch_number}" not in system
    assert "{current_datetime}" not in system
    assert "вторник, 08.12.2026 11:00" in system
    assert "Время с последнего контакта: 24 часов" in system
    texts = [part["text"] for turn in body["contents"] for part in turn["parts"] if "text" in part]
    assert texts[0] == "Здравствуйте, сколько стоит доставка воды в офис?"  # the client's real question
    assert texts[1] == "Здравствуйте! Доставим в любой район Алматы. Сколько бутылей нужно в неделю? 😊"
    assert texts[-1] == "(служебное) Напиши сообщение касания #2."
    assert body["contents"][-1]["role"] == "user"
    touch = Message.objects.get(pk=sent.message_id)
    assert touch.text == "Здравствуйте! Мы подберём график доставки под ваш офис ✅ Рассказать подробнее?"
    assert touch.contact_id == followup.contact_id


def test_a_touch_with_invented_figures_is_regenerated_once_and_never_sent(fake_gemini, rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due)
    fake_gemini.reply_text("Здравствуйте! Только сегодня скидка 30% на доставку 😊")
    fake_gemini.reply_text("Здравствуйте! Для вас цена 4 500 ₸ за бутыль ✅")
    with time_machine.travel(due, tick=False):
        report = followups_run_due(rng=rng)
    assert not follow_up_messages().exists()
    [deferred] = report.deferred
    assert deferred.reason == "generated text states figures the knowledge base does not"
    correction = fake_gemini.requests[1].camel["contents"][-1]["parts"][0]["text"]
    assert "30%" in correction
    followup.refresh_from_db()
    assert not followup.is_completed


def test_a_corrected_touch_is_sent(fake_gemini, rng):
    silent_client(due=local(2026, 12, 8, 11, 0))
    fake_gemini.reply_text("Здравствуйте! Только сегодня скидка 30% на доставку 😊")
    fake_gemini.reply_text("Здравствуйте! Напоминаю о доставке воды 😊 Остались вопросы?")
    with time_machine.travel(local(2026, 12, 8, 11, 0), tick=False):
        [sent] = followups_run_due(rng=rng).sent
    text = Message.objects.get(pk=sent.message_id).text
    assert text == "Здравствуйте! Напоминаю о доставке воды 😊 Остались вопросы?"


def test_the_limit_bounds_one_tick_and_the_rest_stay_due(rng):
    due = local(2026, 12, 8, 11, 0)
    for _ in range(5):
        silent_client(due=due)
    with time_machine.travel(due, tick=False):
        assert len(followups_run_due(rng=rng, limit=2).sent) == 2
        assert len(followups_run_due(rng=rng).sent) == 3


def test_the_management_command_prints_what_it_sent_deferred_and_stopped(capsys):
    due = local(2026, 12, 8, 11, 0)
    sent = silent_client(due=due)
    stopped = silent_client(due=due, is_client=False)
    waiting = silent_client(due=due, quiet_hours=2)  # the bot wrote two hours ago: the gap holds
    with time_machine.travel(due, tick=False):
        call_command("run_due_followups")
    out = capsys.readouterr().out
    assert f"sent     follow-up {sent.pk} contact {sent.contact_id} touch 1 message" in out
    assert f"stopped  follow-up {stopped.pk} contact {stopped.contact_id} touch 1: not_a_client" in out
    assert f"deferred follow-up {waiting.pk} contact {waiting.contact_id} touch 1 until 2026-12-09 10:0" in out
    assert "minimum gap since our last message" in out
    assert out.strip().endswith("sent=1 deferred=1 stopped=1 released=0")


def test_one_broken_follow_up_does_not_hold_up_the_others_and_is_retried_after_the_lease(monkeypatch, rng):
    from followups import runner

    due = local(2026, 12, 8, 11, 0)
    broken, fine = silent_client(due=due), silent_client(due=due)
    real = runner.conversation_turns

    def turns(*, contact, limit):
        if contact.pk == broken.contact_id:
            raise RuntimeError("corrupt history")
        return real(contact=contact, limit=limit)

    monkeypatch.setattr(runner, "conversation_turns", turns)
    with time_machine.travel(due, tick=False) as clock:
        report = followups_run_due(rng=rng)
        assert [s.followup_id for s in report.sent] == [fine.pk]
        monkeypatch.setattr(runner, "conversation_turns", real)
        clock.move_to(due + runner.LEASE - timedelta(seconds=1))
        assert followups_run_due(rng=rng).sent == []
        clock.move_to(due + runner.LEASE)
        assert [s.followup_id for s in followups_run_due(rng=rng).sent] == [broken.pk]


def test_a_client_who_wrote_in_kazakh_gets_the_touch_in_kazakh(rng):
    due = local(2026, 12, 8, 11, 0)
    followup = silent_client(due=due, touch_number=2)
    Message.objects.filter(contact=followup.contact, direction="in").update(
        text="Сәлеметсіз бе, кеңсеге су жеткізу бағасы қанша?"
    )
    with time_machine.travel(due, tick=False):
        [sent] = followups_run_due(rng=rng).sent

    touch = Message.objects.get(pk=sent.message_id)
    assert touch.text == fixed_text("follow_up_2", "kk")
