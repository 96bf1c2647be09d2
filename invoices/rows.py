"""Loading rows of hand-written SQL into model instances, for the hottest reads.

The customer pages look up their token on every request, and a first view of the account home
reads the customer's balances and newest invoices. Through the ORM that lookup costs
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

# Field names (attnames) to load (always selected in the model's field order); None: every
# concrete field.
Fields = tuple[str, ...] | None


def _fields(model: type[Model], names: Fields) -> list[Any]:
    concrete = model._meta.concrete_fields
    if names is None:
        return list(concrete)
    unknown = set(names) - {field.attname for field in concrete}
    assert not unknown, f"not fields of {model.__name__}: {unknown}"
    # In field order whatever the order asked: Model.from_db takes the values so.
    return [field for field in concrete if field.attname in names]


@functools.cache
def columns(model: type[Model], alias: str, fields: Fields = None) -> str:
    """``alias."col", ...`` for ``fields`` of ``model`` (attnames; default every concrete
    field), in the model's field order."""
    quote = connections["default"].ops.quote_name
    return ", ".join(f"{alias}.{quote(str(f.column))}" for f in _fields(model, fields))


@functools.cache
def _attnames(model: type[Model], fields: Fields = None) -> list[str]:
    return [field.attname for field in _fields(model, fields)]


Converter = tuple[Callable[..., Any], ...]


@functools.cache
def _converters(
    model: type[Model], alias: str, using: str, fields: Fields = None
) -> list[tuple[int, Converter, Any]]:
    """The ORM's per-column converters for ``fields`` of ``model`` (index, functions,
    expression)."""
    expressions = [field.get_col(alias) for field in _fields(model, fields)]
    compiler = model._default_manager.none().query.get_compiler(using=using)
    found: dict[int, tuple[Converter, Any]] = compiler.get_converters(expressions)
    return [(index, tuple(funcs), expr) for index, (funcs, expr) in found.items()]


def _instance(
    model: type[Model], alias: str, fields: Fields, values: Sequence[Any], connection: Any
) -> Model:
    """An instance of ``model`` from the database values of ``fields``, converted as the ORM
    converts them (the others deferred, as with ``QuerySet.only``)."""
    using = connection.alias
    converted = list(values)
    for index, funcs, expression in _converters(model, alias, using, fields):
        value = converted[index]
        for func in funcs:
            value = func(value, expression, connection)
        converted[index] = value
    return model.from_db(using, _attnames(model, fields), converted)


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
    connection = connections["default"]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Model] = []
    start = 0
    for model, alias in models:
        width = len(model._meta.concrete_fields)
        instances.append(_instance(model, alias, None, row[start : start + width], connection))
        start += width
    for name, value in zip(extras, row[start:], strict=True):
        setattr(instances[0], name, value)
    return instances


def fetch_all(
    sql: str,
    params: Sequence[Any] | dict[str, Any],
    model: type[Model],
    alias: str,
    fields: Fields,
    extras: Sequence[str] = (),
) -> list[Model]:
    """Run ``sql`` (selecting ``columns(model, alias, fields)``, then one value per name in
    ``extras``) and return one instance of ``model`` per row, with only ``fields`` loaded; the
    extra values are set on it under their names, as the database returned them."""
    connection = connections["default"]
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    width = len(_attnames(model, fields))
    instances = []
    for row in found:
        instance = _instance(model, alias, fields, row[:width], connection)
        for name, value in zip(extras, row[width:], strict=True):
            setattr(instance, name, value)
        instances.append(instance)
    return instances
