"""What the admin asks of the conversation checks: queue a run of the cards (it runs in its
own process: `manage.py eval --in-place`, on the live database with every conversation
rolled back), and draft a card from a real conversation whose bot message was wrong."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import structlog
import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evals.cards import CATEGORIES, CardError, cards_load
from evals.checks import language_of
from evals.models import CardDraft, EvalRun
from messaging.models import Message

log = structlog.get_logger(__name__)

RUN_TIMEOUT_SECONDS = 1800


def eval_run_request(*, cards: list[str], user: Any = None) -> EvalRun:
    """Records a run of `cards` (ids or categories; none: all of them) and queues it after the
    commit. Raises CardError for an unknown card or a bad card file."""
    cards_load(only=cards or None)
    run = EvalRun.objects.create(cards=",".join(cards), requested_by=user if getattr(user, "pk", None) else None)
    from evals.tasks import run_evals  # the task module imports this one

    transaction.on_commit(lambda: run_evals.delay(run.pk))
    log.info("eval.run_requested", run_id=run.pk, cards=len(cards))
    return run


def eval_run_execute(*, run_id: int) -> EvalRun | None:
    """Runs a queued run in a child process (its settings overrides and stand-in servers stay
    there) and stores the report. Claims the row first: a redelivered task does not run twice."""
    if not EvalRun.objects.filter(pk=run_id, status=EvalRun.Status.QUEUED).update(status=EvalRun.Status.RUNNING):
        return None
    run = EvalRun.objects.get(pk=run_id)
    with tempfile.TemporaryDirectory(prefix="eval-") as folder:
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "eval", "--in-place", "--out", folder]
        for card in filter(None, run.cards.split(",")):
            command += ["--card", card]
        try:
            done = subprocess.run(  # noqa: S603 - our own command; card names were checked against the cards
                command, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
            )
            report_json = Path(folder) / "report.json"
            if not report_json.exists():
                raise RuntimeError((done.stderr or done.stdout or "no report written")[-2000:])
            report = json.loads(report_json.read_text(encoding="utf-8"))
            html = (Path(folder) / "report.html").read_text(encoding="utf-8")
        except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
            EvalRun.objects.filter(pk=run.pk).update(
                status=EvalRun.Status.ERROR, error=str(exc)[:5000], finished_at=timezone.now()
            )
            log.warning("eval.run_failed", run_id=run.pk, error=type(exc).__name__)
            return EvalRun.objects.get(pk=run.pk)
    summary = (
        f"{report['cards_hard_ok']}/{report['cards_total']} сценариев без нарушений; "
        f"pass^1 {report['pass1']}, pass^{report['trials']} {report['passk']}"
    )
    EvalRun.objects.filter(pk=run.pk).update(
        status=EvalRun.Status.PASSED if report["hard_ok"] else EvalRun.Status.FAILED,
        summary=summary[:255],
        report=report,
        report_html=html,
        finished_at=timezone.now(),
    )
    log.info("eval.run_done", run_id=run.pk, hard_ok=report["hard_ok"])
    return EvalRun.objects.get(pk=run.pk)


def card_draft_from_message(*, message: Message, user: Any = None) -> CardDraft:
    """A card drafted from the conversation up to `message`, a bot message an operator marked
    as wrong: the customer's messages as turns, the bot's answers as the scripted model's, and
    a check that the wrong answer is not given again. The customer's name and number are left
    out; their texts stay for the operator to review."""
    history = list(
        Message.objects.filter(contact_id=message.contact_id, timestamp__lte=message.timestamp)
        .exclude(direction=Message.Direction.OUT, author=Message.Author.OPERATOR)
        .order_by("timestamp", "id")
    )
    turns: list[dict[str, Any]] = []
    for item in history:
        text = item.display_text.strip()
        if not text:
            continue
        if item.direction == Message.Direction.IN:
            if turns and not turns[-1].get("model"):
                turns[-1]["customer"].append(text)
            else:
                turns.append({"customer": [text]})
        elif (
            turns
            and item.author == Message.Author.BOT
            and item.purpose
            in (
                Message.Purpose.REPLY,
                Message.Purpose.HANDOFF,
            )
        ):
            turns[-1].setdefault("model", []).append({"text": text})
        if item.pk == message.pk:
            break
    if not turns:
        raise CardError("the conversation has no customer message before this bot message")
    contact = message.contact
    first = turns[0]["customer"][0]
    said = " ".join(text for turn in turns for text in turn["customer"])
    card = {
        "id": f"draft-{message.pk}",
        "title": f"Из переписки: {first[:60]}",
        "category": "price",
        "language": language_of(said),
        "persona": "Клиент из реальной переписки: опишите, кто он и как пишет.",
        "goal": "Опишите, чего клиент хотел добиться.",
        "contact": {"is_client": True, "request_type": contact.request_type or "sales"},
        "turns": [
            {**turn, "customer": turn["customer"] if len(turn["customer"]) > 1 else turn["customer"][0]}
            for turn in turns
        ],
        "expect": {"not_contains": [message.display_text.strip()[:80]]},
        "rubric": ["spin_question", "short", "formal_you", "no_promises"],
    }
    header = (
        f"# Drafted from bot message #{message.pk}, marked wrong on {timezone.localdate():%Y-%m-%d}.\n"
        "# The last scripted answer is the wrong one the bot gave: write what it should have said,\n"
        f"# pick the category ({', '.join(CATEGORIES)}) and the checks, then save it under evals/cards/.\n"
    )
    text = header + yaml.safe_dump(card, allow_unicode=True, sort_keys=False, width=100)
    draft = CardDraft.objects.create(
        created_by=user if getattr(user, "pk", None) else None, message=message, title=card["title"], yaml=text
    )
    log.info("eval.card_drafted", draft_id=draft.pk, message_id=message.pk)
    return draft


def _single(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn of one message reads as a text, a burst as a list."""
    customer = turn["customer"]
    return {**turn, "customer": customer if len(customer) > 1 else customer[0]}
