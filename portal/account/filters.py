"""The invoice list's filter, read from the query string (``/portal/<token>/invoices`` and its
CSV and ZIP exports share it).

Parameters not listed here are ignored; an empty value means the default (a form submits every
field); a value out of range is refused with a message naming it (the page answers 400), never
guessed at and never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.utils.translation import gettext as _

from core.errors import ApplicationError

STATUSES = ("all", "open", "overdue", "paid", "void")
SORTS = ("issue_date", "due_date", "number", "total", "amount_due")
ORDERS = ("asc", "desc")
PER_PAGE = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25
MAX_QUERY_LENGTH = 100
# Far beyond any real list; keeps a made-up number from meaning anything.
MAX_PAGE = 100_000
# The parameters of the filter, in the order they appear in URLs.
PARAMETERS = ("status", "from", "to", "q", "sort", "order", "page", "per_page")


class FilterRefused(ApplicationError):
    """A filter value out of range (400): the message names the parameter and what it takes."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__("invalid", message, field, 400)


@dataclass(frozen=True)
class InvoiceFilter:
    status: str = "all"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    sort: str = "issue_date"
    order: str = "desc"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def query(self, **changes: object) -> dict[str, str]:
        """The non-default parameters (with ``changes``), for links that keep the filter."""
        values: dict[str, object] = {
            "status": self.status,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "q": self.q,
            "sort": self.sort,
            "order": self.order,
            "page": self.page,
            "per_page": self.per_page,
            **changes,
        }
        defaults = InvoiceFilter()
        default_values: dict[str, object] = {
            "status": defaults.status,
            "from": "",
            "to": "",
            "q": "",
            "sort": defaults.sort,
            "order": defaults.order,
            "page": defaults.page,
            "per_page": defaults.per_page,
        }
        query = {
            name: str(values[name])
            for name in PARAMETERS
            if str(values[name]) != str(default_values[name])
        }
        # Anything else asked for (the page language) comes last.
        query.update({k: str(v) for k, v in changes.items() if k not in PARAMETERS})
        return query

    def urlencode(self, **changes: object) -> str:
        return urlencode(self.query(**changes))

    def export_query(self) -> str:
        """The filter of the exports: everything but the page."""
        return urlencode({k: v for k, v in self.query().items() if k not in ("page", "per_page")})


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        return default
    if value not in allowed:
        raise FilterRefused(
            _("“%(param)s” must be one of: %(allowed)s.")
            % {"param": name, "allowed": ", ".join(allowed)},
            name,
        )
    return value


def _date(params: Mapping[str, str], name: str) -> dt.date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterRefused(
            _("“%(param)s” must be a date written YYYY-MM-DD.") % {"param": name}, name
        ) from None


def _positive(params: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    value = params.get(name, "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= maximum:
        raise FilterRefused(
            _("“%(param)s” must be a whole number from 1 to %(maximum)s.")
            % {"param": name, "maximum": maximum},
            name,
        )
    return int(value)


def invoice_filter_parse(params: Mapping[str, str]) -> InvoiceFilter:
    """The filter ``params`` ask for; FilterRefused (400) for a value out of range."""
    status = _choice(params, "status", STATUSES, "all")
    date_from = _date(params, "from")
    date_to = _date(params, "to")
    if date_from and date_to and date_from > date_to:
        raise FilterRefused(_("“from” must not be after “to”."), "from")
    q = params.get("q", "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        raise FilterRefused(
            _("The search may be at most %(count)s characters long.") % {"count": MAX_QUERY_LENGTH},
            "q",
        )
    if "\x00" in q:
        raise FilterRefused(_("The search contains a character that is not allowed."), "q")
    sort = _choice(params, "sort", SORTS, "issue_date")
    order = _choice(params, "order", ORDERS, "desc")
    per_page_text = params.get("per_page", "").strip()
    per_page = DEFAULT_PER_PAGE
    if per_page_text:
        if per_page_text not in {str(n) for n in PER_PAGE}:
            raise FilterRefused(
                _("“%(param)s” must be one of: %(allowed)s.")
                % {"param": "per_page", "allowed": ", ".join(str(n) for n in PER_PAGE)},
                "per_page",
            )
        per_page = int(per_page_text)
    page = _positive(params, "page", 1, MAX_PAGE)
    return InvoiceFilter(
        status=status,
        date_from=date_from,
        date_to=date_to,
        q=q,
        sort=sort,
        order=order,
        page=page,
        per_page=per_page,
    )


def page_refused(page: int) -> FilterRefused:
    return FilterRefused(_("There is no page %(page)s.") % {"page": page}, "page")


def page_parse(params: Mapping[str, str]) -> int:
    """``page`` of a list that has no other filter (payments, credit notes)."""
    return _positive(params, "page", 1, MAX_PAGE)
