"""Conversation evaluations: scenario cards run through the real pipeline, hard checks on the
resulting state, a simulated customer and a judge with a real model key, and the report.

Public API:
- `cards_load(*, folder=None) -> list[Card]`, `card_parse(*, text, source) -> Card` (`CardError`)
- `suite_run(*, cards, options) -> SuiteResult` (`evals.runner`)
- `report_write(*, result, folder) -> ReportPaths`, `report_html(*, result) -> str` (`evals.report`)
- `judge_validate(*, judge) -> JudgeValidation` (`evals.judge`)
- `card_draft_from_message(*, message, user) -> CardDraft` (`evals.services`)
"""
