"""Admin buttons for no-login links: generate, copy and revoke the invoice share link (on the
invoice) and the portal link (on the customer). Only staff who may manage invoices of that
company see the URL and the buttons; everyone else sees whether a link is live. Every change
goes through invoices.services (which audit it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from invoices import selectors, services
from invoices.models import Customer, Invoice, InvoiceStatus, ShareLink


def expiry_from_post(request: HttpRequest) -> dt.datetime | None:
    """The optional expiry date typed by staff: the link stops opening at the end of that day
    (UTC). Blank or unreadable means no expiry; a past day is refused by the service."""
    value = parse_date(request.POST.get("link_expires_on", "") or "") if request.POST else None
    if value is None:
        return None
    return dt.datetime.combine(value, dt.time.max, tzinfo=dt.UTC)


def _link_box(
    *, request: HttpRequest, can_manage: bool, link: ShareLink | None, urls: tuple[str, str]
) -> str:
    return render_to_string(
        "admin/invoices/_share_link_box.html",
        {
            "can_manage": can_manage,
            "link": link,
            "url": services.share_link_url(link) if link is not None and can_manage else "",
            "create_url": urls[0],
            "revoke_url": urls[1],
        },
        request=request,
    )


class _LinkAdminMixin:
    """Two POST-only admin views per model (scoped like the change view) and the link box,
    shown under the change form's Save buttons (so pressing Enter in a field still saves)."""

    link_kind = ""  # URL segment: "share-link" or "portal-link"
    link_title: Any = ""
    change_form_template: ClassVar[Any] = "admin/invoices/change_form_with_link.html"
    # Provided by TenantScopedAdmin / ModelAdmin.
    admin_site: Any
    model: Any
    get_object: Callable[..., Any]
    has_change_permission: Callable[..., bool]
    message_user: Callable[..., None]

    def _url_name(self, action: str) -> str:
        meta = self.model._meta
        return f"{meta.app_label}_{meta.model_name}_link_{action}"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        own = [
            path(
                f"<path:object_id>/{self.link_kind}/{action}/",
                wrap(require_POST(view)),
                name=self._url_name(action),
            )
            for action, view in (("create", self._create_view), ("revoke", self._revoke_view))
        ]
        return own + super().get_urls()  # type: ignore[misc]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # 404 outside the staff member's companies
        extra_context = {
            **(extra_context or {}),
            "link_title": self.link_title,
            "link_box": self._box(request, obj),
        }
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc,no-any-return]

    def _box(self, request: HttpRequest, obj: Any) -> str:
        urls = (
            reverse(f"admin:{self._url_name('create')}", args=[obj.pk]),
            reverse(f"admin:{self._url_name('revoke')}", args=[obj.pk]),
        )
        return _link_box(
            request=request,
            can_manage=self.has_change_permission(request, obj),
            link=self._live_link(obj),
            urls=urls,
        )

    def _live_link(self, obj: Any) -> ShareLink | None:
        raise NotImplementedError

    def _managed_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _back(self, obj: Any) -> HttpResponseRedirect:
        meta = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        )

    def _create_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        raise NotImplementedError

    def _revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        raise NotImplementedError


class InvoiceShareLinkAdminMixin(_LinkAdminMixin):
    link_kind = "share-link"
    link_title = gettext_lazy("Share link")

    def _box(self, request: HttpRequest, obj: Any) -> str:
        if obj.status == InvoiceStatus.DRAFT:
            return _("Finalize the invoice to share it.")
        return super()._box(request, obj)

    def _live_link(self, obj: Any) -> ShareLink | None:
        return selectors.live_share_link(invoice=obj)

    def _create_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice: Invoice = self._managed_object(request, object_id)
        try:
            link = services.share_link_create(
                invoice=invoice, actor=request.user, expires_at=expiry_from_post(request)
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request, _("Share link: %(url)s") % {"url": services.share_link_url(link)}
            )
        return self._back(invoice)

    def _revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice: Invoice = self._managed_object(request, object_id)
        services.share_link_revoke(invoice=invoice, actor=request.user)
        self.message_user(request, _("Share link revoked: the old URL no longer opens."))
        return self._back(invoice)


class CustomerPortalLinkAdminMixin(_LinkAdminMixin):
    link_kind = "portal-link"
    link_title = gettext_lazy("Portal link")

    def _live_link(self, obj: Any) -> ShareLink | None:
        return selectors.live_portal_link(customer=obj)

    def _create_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer: Customer = self._managed_object(request, object_id)
        try:
            link = services.portal_link_create(
                customer=customer, actor=request.user, expires_at=expiry_from_post(request)
            )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return self._back(customer)
        self.message_user(
            request, _("Portal link: %(url)s") % {"url": services.share_link_url(link)}
        )
        return self._back(customer)

    def _revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        customer: Customer = self._managed_object(request, object_id)
        services.portal_link_revoke(customer=customer, actor=request.user)
        self.message_user(request, _("Portal link revoked: the old URL no longer opens."))
        return self._back(customer)
