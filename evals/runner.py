"""Runs scenario cards through the product's real pipeline: Wappi's webhook format through
ingest, the AI step (moderator, sales agent, tools, compose and its number guard), the outbox
and the sender, on the database Django is configured with. Each trial is one transaction that is
rolled back at its end: nothing a card does stays, nothing is really sent (the sender talks to a
local stand-in of Wappi), and no task reaches the broker (after-commit hand-offs never run; the
runner drives each step itself).

With `scripted` the model is the local scripted Gemini and each card says what it answers; else
the configured Gemini (GEMINI_API_KEY) answers, the simulated customer plays the persona after
the card's opening messages, and the judge scores the rubric.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from ai import context_cache, sdk
from ai.knowledge import knowledge_load
from ai.llm import LLMError
from ai.voice import voice_process
from assistant.pipeline import NotYet, incoming_process
from calls.booking import is_working_day
from contacts.models import Contact
from contacts.services import contact_get_or_create, contact_set_client_status
from evals import fakes
from evals.cards import Card, Step, Turn
from evals.checks import Check, hard_checks
from evals.judge import Verdict, judge_transcript, persona_next
from messaging.ingest import ingest_events
from messaging.models import Message
from messaging.sender import outbox_send
from messaging.wappi import WappiClient
from messaging.wire import parse_webhook
from project.lib.kz_calendar import is_public_holiday

log = structlog.get_logger(__name__)

# The customers of the cards: numbers no real customer has (a range Kazakh operators do not issue).
PHONE_PREFIX = "7700999"


@dataclass(frozen=True)
class Options:
    scripted: bool = True
    trials: int = 1
    simulate: bool = False  # the model plays the customer after the card's first turn
    judge: bool = False
    # Knowledge bases already indexed (and committed) in the database before the run.
    preloaded: tuple[str, ...] = ()
    # "current": every card answers from the knowledge base the database holds, whatever it names.
    knowledge: str = ""


@dataclass
class Trial:
    lines: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    error: str = ""
    known_issue: str = ""

    @property
    def hard_ok(self) -> bool:
        """No hard check failed, apart from a card's known issue outside the release gate."""
        return not self.error and all(check.ok or (self.known_issue and not check.gate) for check in self.checks)

    @property
    def ok(self) -> bool:
        return self.hard_ok and all(v.passed for v in self.verdicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "hard_ok": self.hard_ok,
            "error": self.error,
            "conversation": self.lines,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail, "gate": c.gate} for c in self.checks],
            "judge": [{"item": v.item, "passed": v.passed, "reason": v.reason} for v in self.verdicts],
        }


@dataclass
class CardResult:
    card: Card
    trials: list[Trial]

    @property
    def hard_ok(self) -> bool:
        return all(t.hard_ok for t in self.trials)

    @property
    def pass1(self) -> float:
        return sum(t.ok for t in self.trials) / len(self.trials)

    @property
    def passk(self) -> bool:
        return all(t.ok for t in self.trials)

    @property
    def failures(self) -> list[str]:
        found: list[str] = []
        for trial in self.trials:
            if trial.error:
                found.append(trial.error)
            found += [f"{c.name}: {c.detail}" for c in trial.checks if not c.ok]
        return list(dict.fromkeys(found))

    def as_dict(self) -> dict[str, Any]:
        card = self.card
        return {
            "id": card.id,
            "title": card.title,
            "category": card.category,
            "category_title": card.category_title,
            "language": card.language,
            "source": os.path.relpath(card.source, settings.BASE_DIR) if card.source else "",
            "hard_ok": self.hard_ok,
            "known_issue": card.known_issue,
            "known_failing": bool(card.known_issue) and any(not c.ok for t in self.trials for c in t.checks),
            "pass1": round(self.pass1, 3),
            "passk": self.passk,
            "failures": self.failures,
            "trials": [t.as_dict() for t in self.trials],
        }


@dataclass
class SuiteResult:
    options: Options
    cards: list[CardResult]
    started_at: datetime
    finished_at: datetime
    judge_validation: dict[str, Any] | None = None

    @property
    def hard_ok(self) -> bool:
        return all(c.hard_ok for c in self.cards)

    def as_dict(self) -> dict[str, Any]:
        total = len(self.cards) or 1
        return {
            "mode": "scripted" if self.options.scripted else "model",
            "trials": self.options.trials,
            "simulated_customer": self.options.simulate,
            "judge": self.options.judge,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "hard_ok": self.hard_ok,
            "cards_total": len(self.cards),
            "cards_hard_ok": sum(c.hard_ok for c in self.cards),
            "pass1": round(sum(c.pass1 for c in self.cards) / total, 3),
            "passk": round(sum(c.passk for c in self.cards) / total, 3),
            "judge_validation": self.judge_validation,
            "cards": [c.as_dict() for c in self.cards],
        }


# --- The environment ------------------------------------------------------------------------------


@dataclass
class Environment:
    gemini: fakes.ScriptedGemini | None
    wappi: fakes.FakeWappi
    client: WappiClient
    options: Options
    loaded_knowledge: set[str] = field(default_factory=set)


@contextmanager
def environment(options: Options) -> Iterator[Environment]:
    """The local stand-ins and the settings a run needs, for this process: no quiet window (the
    runner drives each step), no pacing between sends, Kaspi pointed at the stand-in (an invoice
    is never real), and with `scripted` the model on the scripted Gemini without context caching.
    The run counts in a cache of its own (this process's memory): the transaction's rollback does
    not undo the live cache, and the site's /metrics tallies, suspicious-activity flags and send
    caps must not show the run's conversations (override_settings resets Django's cache handles
    when CACHES changes, on the way in and out)."""
    overrides: dict[str, Any] = {
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"eval-{uuid.uuid4().hex}",
            }
        },
        "REPLY_DEBOUNCE_SECONDS": 0.0,
        "SEND_MIN_GAP_SECONDS": 0,
        "SEND_GAP_JITTER_SECONDS": 0,
        # Pacing is the number's anti-ban throttle, not what a card checks: 47 cards in a minute
        # must not meet the per-minute cap.
        "SEND_MAX_PER_MINUTE": 1_000_000,
        "SEND_NUMBER_GAP_SECONDS": 0,
        "SEND_MAX_PER_HOUR": 1_000_000,
        "SEND_MAX_PER_DAY": 1_000_000,
        "KASPI_SANDBOX": False,
        "KASPI_ORGANIZATION_BIN": "000000000000",
        "KASPI_DEVICE_TOKEN": "eval-device",
    }
    for name in ("NO_PROXY", "no_proxy"):
        # A developer's proxy must not see the requests to the local stand-ins.
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        os.environ[name] = ",".join(hosts + [h for h in ("127.0.0.1", "localhost") if h not in hosts])
    with fakes.FakeWappi() as wappi, contextmanager(_gemini)(options.scripted) as gemini:
        overrides["KASPI_BASE_URL"] = f"{wappi.base_url}/kaspi"
        if gemini is None:
            overrides["LLM_BACKEND"] = "gemini"  # the key is set: the configured model answers
        else:
            overrides.update(
                LLM_BACKEND="gemini",
                GEMINI_API_KEY="scripted-gemini-key",
                GEMINI_BASE_URL=gemini.base_url,
                GEMINI_CACHE_ENABLED=False,
                GEMINI_TIMEOUT=10.0,
            )
        with override_settings(**overrides):
            sdk.reset_client()
            context_cache.reset_memo()
            client = WappiClient(
                base_url=wappi.base_url,
                token="eval-stand-in",  # noqa: S106 - the local stand-in takes any token
                profile_id="eval",
                timeout=10.0,
                media_hosts=["127.0.0.1"],
            )
            try:
                yield Environment(
                    gemini=gemini, wappi=wappi, client=client, options=options, loaded_knowledge=set(options.preloaded)
                )
            finally:
                sdk.reset_client()
                cache.clear()  # the run's own memory cache, not the live one


def _gemini(scripted: bool) -> Iterator[fakes.ScriptedGemini | None]:
    if not scripted:
        yield None
        return
    with fakes.ScriptedGemini() as gemini:
        yield gemini


# --- Running -----------------------------------------------------------------------------------------


def suite_run(*, cards: list[Card], options: Options, progress=None) -> SuiteResult:
    """Runs every card `options.trials` times. `progress(card_result)` is called after each card."""
    started = timezone.now()
    results = []
    with environment(options) as env:
        for index, card in enumerate(cards):
            trials = []
            for _ in range(options.trials):
                if env.gemini is not None:
                    env.gemini.reset()  # each trial starts from its card's script alone
                trials.append(trial_run(card=card, env=env, index=index))
            result = CardResult(card=card, trials=trials)
            results.append(result)
            if progress is not None:
                progress(result)
    return SuiteResult(options=options, cards=results, started_at=started, finished_at=timezone.now())


def trial_run(*, card: Card, env: Environment, index: int = 0) -> Trial:
    """One conversation of `card`, in a transaction rolled back at its end. The scripted Gemini
    answers what the card scripts, after anything already queued."""
    trial = Trial(known_issue=card.known_issue)
    with transaction.atomic():
        try:
            contact = _conversation(card=card, env=env, trial=trial, index=index)
            trial.lines = transcript(contact) if contact is not None else []
            trial.checks = hard_checks(card=card, contact=contact, scripted=env.gemini is not None)
            if env.gemini is not None:
                trial.checks.append(_script_check(env.gemini))
            if env.options.judge and card.rubric:
                trial.verdicts = judge_transcript(lines=trial.lines, items=card.rubric)
        except Exception as exc:  # a card that breaks the pipeline is a failed card, not a stopped suite
            log.exception("eval.card_broke", card=card.id)
            trial.error = f"{type(exc).__name__}: {exc}"
        finally:
            transaction.set_rollback(True)
    return trial


def _script_check(gemini: fakes.ScriptedGemini) -> Check:
    if gemini.unscripted:
        return Check("script", False, f"the pipeline asked for an unscripted {gemini.unscripted[0]} answer")
    left = gemini.pending(fakes.REPLY)
    if left:
        return Check("script", False, f"{left} scripted model answer(s) never asked for")
    return Check("script", True)


def _phone(index: int) -> str:
    # A number nobody has in this database (a run against the live database must not touch a
    # real customer, even in a transaction that is rolled back).
    for n in range(index, index + 1000):
        phone = f"{PHONE_PREFIX}{n % 10000:04d}"
        if not Contact.objects.filter(phone=phone).exists():
            return phone
    raise RuntimeError("no free evaluation phone number")


def _conversation(*, card: Card, env: Environment, trial: Trial, index: int) -> Contact | None:
    knowledge = env.options.knowledge or card.knowledge
    if knowledge != "current" and knowledge not in env.loaded_knowledge:
        folder = settings.BASE_DIR / ("knowledge_base/demo" if knowledge == "demo" else knowledge)
        knowledge_load(path=folder)
    phone = _phone(index)
    contact = None
    if card.contact:
        contact, _ = contact_get_or_create(phone=phone, defaults={"name": card.contact.get("name", "")})
        if "is_client" in card.contact:
            contact_set_client_status(
                contact=contact,
                is_client=card.contact["is_client"],
                request_type=card.contact.get("request_type"),
                by="operator",
            )
    days = relative_days(timezone.now())
    scripted = env.gemini is not None
    # A card of one turn gives the opening: the model plays the customer after it. A card of
    # several turns is a scripted sequence: the customer says exactly that, whoever answers.
    simulate = simulating(card, env.options)
    if scripted and simulate:
        _script_turn(env.gemini, card.turns[0], days)
    turns: list[Turn] = list(card.turns)
    said = 0
    while turns:
        turn = turns.pop(0)
        if scripted and not simulate:
            _script_turn(env.gemini, turn, days)
        contact = _customer_turn(turn=turn, phone=phone, env=env, days=days, seq=said) or contact
        said += 1
        if simulate and said < card.max_turns and contact is not None:
            try:
                following = persona_next(card=card, lines=transcript(contact))
            except LLMError as exc:
                trial.error = f"simulated customer: {exc}"
                break
            if not following.goal_reached and following.message.strip():
                turns.append(Turn(customer=(following.message.strip(),)))
    return contact or Contact.objects.filter(phone=phone).first()


def simulating(card: Card, options: Options) -> bool:
    """Whether the model plays the customer after the card's opening (a card of one turn)."""
    return options.simulate and len(card.turns) == 1


def _script_turn(gemini: fakes.ScriptedGemini, turn: Turn, days: dict[str, str]) -> None:
    if turn.verdict is not None:
        verdict = {
            "isClient": turn.verdict["is_client"],
            "confidence": 0.9,
            "reasoning": "по сценарию",
            "requestType": turn.verdict["request_type"],
        }
        gemini.push(fakes.VERDICT, fakes.text_body(json.dumps(verdict, ensure_ascii=False)))
    gemini.script.defaults[fakes.INTENT] = fakes.text_body(json.dumps({"intent": turn.intent}))
    if turn.voice:
        gemini.push(fakes.TRANSCRIBE, fakes.text_body(fill(turn.transcript, days)))
    for step in turn.model:
        gemini.push(fakes.REPLY, _step_body(step, days))


def _step_body(step: Step, days: dict[str, str]) -> dict[str, Any]:
    if step.call:
        return fakes.call_body(step.call, fill(step.args, days))
    return fakes.text_body(fill(step.text, days))


def _customer_turn(*, turn: Turn, phone: str, env: Environment, days: dict[str, str], seq: int) -> Contact | None:
    """The customer writes the turn's messages (one webhook POST each, a burst when several),
    a voice note is transcribed, the AI step answers, and its reply goes through the sender."""
    stored: list[int] = []
    # A voice note's audio is a stand-in only the scripted model "hears"; a real model gets the
    # card's transcript as the customer's typed words instead.
    voice = turn.voice and env.gemini is not None
    texts = turn.customer if not turn.voice or voice else (turn.transcript,)
    for i, text in enumerate(texts):
        now = timezone.now()
        event: dict[str, Any] = {
            "wh_type": "incoming_message",
            "id": f"EVAL{phone}{seq:03d}{i:02d}{now.timestamp():.6f}".replace(".", ""),
            "type": "chat",
            "body": fill(text, days),
            "from": f"{phone}@c.us",
            "to": "77000000000@c.us",
            "chatId": f"{phone}@c.us",
            "senderName": "Клиент",
            "time": now.timestamp(),
            "is_me": False,
            "chat_type": "dialog",
        }
        if voice:
            event.update(type="ptt", body="", file_link=f"{env.wappi.base_url}/media/{event['id']}.ogg")
        report = ingest_events(events=parse_webhook({"messages": [event]}), via="webhook", now=now)
        stored += report.stored
    if not stored:
        return None
    first = Message.objects.select_related("contact").get(pk=stored[0])
    if voice:
        for message_id in stored:
            voice_process(message_id=message_id, client=env.client, final_attempt=True)
    for _attempt in range(3):
        try:
            outcome = incoming_process(message_id=first.pk, now=timezone.now())
        except NotYet:
            continue
        if outcome.again_in is None:
            break
    _send_replies(first.contact, env)
    return first.contact


def _send_replies(contact: Contact, env: Environment) -> None:
    """The sender takes the customer's queued messages; what it does after its commit (the
    follow-up cadence counting from a sent message) runs here, as the commit would."""
    queued = Message.objects.filter(
        contact=contact, direction=Message.Direction.OUT, status=Message.Status.QUEUED
    ).order_by("id")
    for message in queued:
        before = len(connection.run_on_commit)
        outbox_send(message_id=message.pk, client=env.client)
        callbacks, connection.run_on_commit[before:] = connection.run_on_commit[before:], []
        for _sids, callback, _robust in callbacks:
            callback()


def transcript(contact: Contact) -> list[dict[str, Any]]:
    """The conversation as the report shows it."""
    lines = []
    for message in Message.objects.filter(contact=contact).order_by("timestamp", "id"):
        who = "customer" if message.direction == Message.Direction.IN else "assistant"
        lines.append(
            {
                "who": who,
                "text": message.display_text,
                "voice": message.is_voice,
                "purpose": message.purpose if who == "assistant" else "",
                "status": message.status if who == "assistant" else "",
                "author": message.author,
            }
        )
    return lines


# --- Days relative to the run -----------------------------------------------------------------------


def relative_days(now: datetime) -> dict[str, str]:
    """{tomorrow}, {next_workday} (the next working day after today), {next_saturday},
    {next_holiday} (the next Kazakhstan public holiday on a weekday, so that only the holiday
    makes it a day off), as YYYY-MM-DD in the business's time zone."""
    today = now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    return {
        "tomorrow": (today + timedelta(days=1)).isoformat(),
        "next_workday": _next(today, is_working_day).isoformat(),
        "next_saturday": _next(today, lambda d: d.weekday() == 5).isoformat(),
        "next_holiday": _next(today, lambda d: d.weekday() < 5 and is_public_holiday(d)).isoformat(),
    }


def _next(today: date, wanted) -> date:
    day = today + timedelta(days=1)
    while not wanted(day):
        day += timedelta(days=1)
    return day


def fill(value: Any, days: dict[str, str]) -> Any:
    """Puts the run's days into a card's texts and tool arguments ({next_workday}...)."""
    if isinstance(value, str):
        for name, day in days.items():
            value = value.replace("{" + name + "}", day)
        return value
    if isinstance(value, dict):
        return {key: fill(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, days) for item in value]
    return value
