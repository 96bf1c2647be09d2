"""Loading a row of several joined tables into model instances, for the hottest reads.

The customer pages look up their token on every request. Through the ORM that lookup costs
about 2 ms of Python (building the joins and filters each time); the same SQL through a cursor
costs 0.2 ms (see shared/performance.md). This runs hand-written SQL and turns the row into the
models with the ORM's own converters (so SQLite's strings become dates and decimals exactly as
the ORM would make them), instances that behave like ORM-loaded ones.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model


@functools.cache
def columns(model: type[Model], alias: str) -> str:
    """``alias."col", ...`` for every concrete field of ``model``, in field order."""
    quote = connections["default"].ops.quote_name
    return ", ".join(f"{alias}.{quote(str(f.column))}" for f in model._meta.concrete_fields)


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


Converter = tuple[Callable[..., Any], ...]


@functools.cache
def _converters(model: type[Model], alias: str, using: str) -> list[tuple[int, Converter, Any]]:
    """The ORM's per-column converters for ``model``'s fields (index, functions, expression)."""
    fields = model._meta.concrete_fields
    expressions = [field.get_col(alias) for field in fields]
    compiler = model._default_manager.none().query.get_compiler(using=using)
    found: dict[int, tuple[Converter, Any]] = compiler.get_converters(expressions)
    return [(index, tuple(funcs), expr) for index, (funcs, expr) in found.items()]


@contextlib.contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor whose statements PostgreSQL plans once per connection instead of on every call.

    Django's cursors bind parameters on the client, so each lookup is new SQL text to the
    server, planned again every time: for the token lookup with its subqueries, planning costs
    several times what running it does. This cursor sends the parameters apart from the SQL and
    prepares each statement on its first run on a connection (psycopg keeps the statements it
    prepared per connection; pooled connections keep theirs), so later calls skip planning. It
    is wrapped as Django wraps its own, so the query is logged and counted alike. Elsewhere
    (SQLite) it is Django's usual cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.validate_thread_sharing()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _preparing_cursor_class()(connection.connection)
    cursor = (
        _debug_wrapper_class()(raw, connection)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with cursor:
        yield cursor


@functools.cache
def _debug_wrapper_class() -> type:
    from django.db.backends.postgresql import base

    debug_wrapper: Any = base.CursorDebugWrapper

    class PreparedDebugWrapper(debug_wrapper):  # type: ignore[misc]
        """Logs the statement with its values in, as Django logs its client-bound queries
        (Django reads the text of the last query off the cursor, which a prepared statement's
        cursor does not keep)."""

        def debug_sql(
            self,
            sql: Any = None,
            params: Any = None,
            use_last_executed_query: bool = False,
            many: bool = False,
        ) -> Any:
            if use_last_executed_query and sql is not None:
                # A value it cannot render: the statement itself is logged.
                with contextlib.suppress(Exception):
                    sql = self.db.ops.compose_sql(sql, params)
            return super().debug_sql(sql, params, use_last_executed_query=False, many=many)

    return PreparedDebugWrapper


@functools.cache
def _preparing_cursor_class() -> type:
    from django.db.backends.postgresql import base

    server_binding: Any = base.ServerBindingCursor  # only defined with psycopg 3

    class PreparingCursor(server_binding):  # type: ignore[misc]
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("prepare", True)
            return super().execute(query, params, **kwargs)

    return PreparingCursor


def fetch_joined(
    sql: str,
    params: Sequence[Any] | dict[str, Any],
    models: Sequence[tuple[type[Model], str]],
    extras: Sequence[str] = (),
) -> list[Model] | None:
    """Run ``sql`` (selecting ``columns(model, alias)`` for each of ``models``, in order, then
    one value per name in ``extras``) and return one instance per model for the first row, or
    None when there is none. The extra values are set on the first instance under their names,
    as the database returned them (like ``QuerySet.annotate``)."""
    using = "default"
    connection = connections[using]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model] = []
    start = 0
    for model, alias in models:
        width = len(model._meta.concrete_fields)
        values = list(row[start : start + width])
        for index, funcs, expression in _converters(model, alias, using):
            value = values[index]
            for func in funcs:
                value = func(value, expression, connection)
            values[index] = value
        instances.append(model.from_db(using, _attnames(model), values))
        start += width
    for name, value in zip(extras, row[start:], strict=True):
        setattr(instances[0], name, value)
    return instances
