"""``GET``/``PATCH /api/v1/company``: the API key's company settings."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from api.auth import company_of
from api.errors import ApiError
from api.examples import described
from api.schemas import COMPANY_FIELDS, CompanyOut, CompanyPatch, sent_fields
from invoices import services
from invoices.models import Company

router = Router(tags=["company"])


def company_out(company: Company) -> Any:
    return CompanyOut(
        id=company.public_key,
        slug=company.slug,
        plan=company.plan,
        **{name: getattr(company, name) for name in COMPANY_FIELDS if hasattr(company, name)},
    )


@router.get(
    "/company",
    response=CompanyOut,
    **described("Retrieve the company's settings", "GET", "/company", None),
)
def retrieve_company(request: HttpRequest) -> Any:
    return company_out(company_of(request))


@router.patch(
    "/company",
    response=CompanyOut,
    **described(
        "Update the company's settings",
        "PATCH",
        "/company",
        {"brand_color": "#0f766e", "language": "de", "time_zone": "Europe/Berlin"},
        "Fields left out stay as they are.",
    ),
)
def update_company(request: HttpRequest, payload: CompanyPatch) -> Any:  # type: ignore[valid-type]
    changes = sent_fields(payload)
    for name, value in changes.items():
        if value is None:
            raise ApiError(400, "invalid", f"{name} cannot be null.", name)
        if isinstance(value, list):
            # Lists of objects (the CSP trusted sites) are stored as plain JSON.
            changes[name] = [
                item.model_dump() if isinstance(item, Schema) else item for item in value
            ]
    company = company_of(request)
    services.company_update(company=company, changes=changes)
    return company_out(company)
