"""Which company a customer request is for, for the length of that request.

Two facts, set at two places:

- the **host**: on a company's own domain, the host routing middleware
  (``portal.site.middleware``) names that company before any view runs;
- the **page's company**: the token lookups (``invoices.selectors``, preferences) name the
  company whose token opened the page, through :func:`admits`.

:func:`admits` is where a company's domain stays that company's: on company A's host a token of
company B is treated as unknown, so the page answers the one not-found 404. The page's company
is what the customer pages' look (stylesheet, script, analytics, CSP) is taken from. Context
variables, like Django's active language: each request (thread or task) sees only its own."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from invoices.customization.domains import DomainSite
    from invoices.models import Company

_host_site: ContextVar[DomainSite | None] = ContextVar("portal_host_site", default=None)
_page_company: ContextVar[Company | None] = ContextVar("portal_page_company", default=None)

ScopeTokens = tuple[Token["DomainSite | None"], Token["Company | None"]]


def request_begin(site: DomainSite | None) -> ScopeTokens:
    """Start a request served on ``site`` (None: one of our own hosts)."""
    return _host_site.set(site), _page_company.set(None)


def request_end(tokens: ScopeTokens) -> None:
    _host_site.reset(tokens[0])
    _page_company.reset(tokens[1])


def host_site() -> DomainSite | None:
    """The company domain the current request came in on, if it did."""
    return _host_site.get()


def admits(company: Company) -> bool:
    """May the current request serve ``company``'s objects? Not on another company's domain.
    When it may, ``company`` becomes the page's company."""
    site = _host_site.get()
    if site is not None and site.company_id != company.pk:
        return False
    _page_company.set(company)
    return True


def page_company() -> Company | None:
    """The company whose token opened the current page, if one did."""
    return _page_company.get()
