"""Shared by the benchmarks: a query counter and the printed report."""

from __future__ import annotations

from django.db import connection


class QueryCounter:
    """Counts every query (Django's query log stops at 9,000 entries)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> QueryCounter:
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cm.__exit__(*exc)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")  # noqa: T201 - the benchmark's output
    for name, value in rows:
        print(f"   {name:<48} {value}")  # noqa: T201
