"""`manage.py eval`: runs the scenario cards and writes the report (see README, "Checking the
assistant's conversations")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from evals.cards import CardError, cards_load
from evals.judge import judge_validate
from evals.report import report_table, report_write
from evals.runner import Options, suite_run


class Command(BaseCommand):
    help = (
        "Runs the scenario cards (evals/cards) through the real pipeline and writes var/eval/report.html "
        "and report.json; exits non-zero when any hard check fails. By default on a throwaway copy of "
        "the database (created and dropped like the test runner's); with the scripted model unless "
        "GEMINI_API_KEY is set."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--card", action="append", default=[], help="a card id or category (repeatable)")
        parser.add_argument("--trials", type=int, default=None, help="runs per card (1 scripted, 3 with a model)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--scripted", action="store_true", help="the scripted model even when a key is set")
        mode.add_argument("--model", action="store_true", help="the configured Gemini (needs GEMINI_API_KEY)")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="run on the configured database (the current prompts and knowledge base); every card's "
            "conversation is rolled back",
        )
        parser.add_argument("--cards-dir", default="", help="another folder of cards")
        parser.add_argument("--out", default="", help="report folder (default var/eval)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            cards = cards_load(folder=Path(opts["cards_dir"]) if opts["cards_dir"] else None, only=opts["card"])
        except CardError as exc:
            raise CommandError(f"bad card: {exc}") from exc
        use_model = opts["model"] or (bool(settings.GEMINI_API_KEY) and not opts["scripted"])
        if use_model and not settings.GEMINI_API_KEY:
            raise CommandError("--model needs GEMINI_API_KEY")
        trials = opts["trials"] or (3 if use_model else 1)
        if trials < 1:
            raise CommandError("--trials must be at least 1")
        folder = Path(opts["out"]) if opts["out"] else settings.BASE_DIR / "var" / "eval"
        if connection.vendor != "postgresql":
            # Ingest writes a batch's contacts in one PostgreSQL statement (UPDATE ... FROM VALUES).
            raise CommandError(
                "the conversation checks run on PostgreSQL: set DATABASE_URL (make eval uses the tests' "
                "postgres://postgres:postgres@127.0.0.1:5432/whatsapp_agent unless told otherwise)"
            )
        if opts["in_place"]:
            # With the model, the cards answer from the knowledge base the business has loaded;
            # the scripted answers quote the knowledge base each card names.
            data = self._run(cards, use_model=use_model, trials=trials, preloaded=(), in_place=True)
        else:
            data = self._on_throwaway_database(cards, use_model=use_model, trials=trials)
        paths = report_write(data=data, folder=folder)
        self.stdout.write(report_table(data))
        self.stdout.write(f"report: {paths.html}\n        {paths.json}")
        if not data["hard_ok"]:
            raise CommandError("hard checks failed: the release gate is closed")

    def _on_throwaway_database(self, cards: list, *, use_model: bool, trials: int) -> dict:
        from ai.knowledge import knowledge_load

        original = connection.settings_dict["NAME"]
        connection.settings_dict.setdefault("TEST", {})["NAME"] = (
            None if connection.vendor == "sqlite" else f"eval_{original}_{os.getpid()}"
        )
        self.stdout.write("creating a throwaway database and migrating it...")
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            knowledge_load(path=settings.BASE_DIR / "knowledge_base" / "demo")
            return self._run(cards, use_model=use_model, trials=trials, preloaded=("demo",))
        finally:
            connection.creation.destroy_test_db(original, verbosity=0)

    def _run(
        self, cards: list, *, use_model: bool, trials: int, preloaded: tuple[str, ...], in_place: bool = False
    ) -> dict:
        options = Options(
            scripted=not use_model,
            trials=trials,
            simulate=use_model,
            judge=use_model,
            preloaded=preloaded,
            knowledge="current" if in_place and use_model else "",
        )
        validation = None
        if use_model:
            self.stdout.write("checking the judge against the labelled transcripts...")
            validation = judge_validate().as_dict()
        result = suite_run(
            cards=cards,
            options=options,
            progress=lambda r: self.stdout.write(f"  {'ok  ' if r.hard_ok else 'FAIL'} {r.card.id}"),
        )
        data = result.as_dict()
        data["judge_validation"] = validation
        return data
