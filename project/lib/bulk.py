"""Inserting rows that may already exist, in one statement and without a savepoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection, models
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

M = TypeVar("M", bound=models.Model)


def insert_new(objs: Sequence[M], *, key: str) -> list[M]:
    """INSERT ... ON CONFLICT DO NOTHING of `objs` (instances of one model, without primary
    keys) in one statement. Returns the ones really inserted, their primary keys set; a row
    that a unique constraint finds already there (its `key` field, or any other) is left alone
    and not returned. Unlike saving in a savepoint and catching IntegrityError, this costs one
    round trip whatever happens, and never aborts the surrounding transaction on a duplicate."""
    if not objs:
        return []
    model = type(objs[0])
    opts = model._meta
    fields = [f for f in opts.concrete_fields if f is not opts.pk and not f.generated]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, objs)
    [(statement, params)] = query.get_compiler(using=connection.alias).as_sql()
    column = opts.get_field(key).column
    with connection.cursor() as cursor:
        cursor.execute(f'{statement} RETURNING "{opts.pk.column}", "{column}"', params)
        new = {value: pk for pk, value in cursor.fetchall()}
    inserted = []
    for obj in objs:
        value = getattr(obj, opts.get_field(key).attname)
        if value in new:
            obj.pk = new.pop(value)
            obj._state.adding, obj._state.db = False, connection.alias
            inserted.append(obj)
    return inserted
