"""Counting what a piece of work sends to PostgreSQL, for tests that pin a cost in statements."""

from __future__ import annotations

from django.db import connection


class Statements:
    """Counts the statements sent to PostgreSQL (BEGIN and COMMIT are not statements)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> Statements:
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)
