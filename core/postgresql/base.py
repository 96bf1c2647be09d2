"""Django's PostgreSQL backend (``ENGINE = "core.postgresql"``) whose connection pool checks a
connection with ``core.pool_checks`` before handing it out, instead of psycopg's round trip on
every checkout. Everything else is Django's: this only builds the pool, as Django does, with
that check and the callback that remembers when a connection went back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

from core.pool_checks import connection_check, connection_returned


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's, undeclared in its type stubs: the pools by alias, the new connection's set-up.
    _connection_pools: dict[str, ConnectionPool[Any]]
    _configure_connection: Callable[[Any], None]

    @property
    def pool(self) -> ConnectionPool[Any] | None:
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            # Autocommit, as Django's own pool asks; Django sets it per request afterwards.
            connect_kwargs["autocommit"] = True
            checked = self.settings_dict["CONN_HEALTH_CHECKS"]
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=connection_check if checked else None,
                reset=connection_returned if checked else None,
                **({} if pool_options is True else pool_options),
            )
            # The first thread's pool wins, as in Django (opened on first use, never here).
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
