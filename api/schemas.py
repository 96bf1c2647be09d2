"""API shapes. Inputs forbid unknown fields; money is an integer in minor units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

from django.http import HttpRequest
from ninja import Schema
from pydantic import ConfigDict, EmailStr, Field
from pydantic import ValidationError as PydanticValidationError

from api.errors import ApiError


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


S = TypeVar("S", bound=StrictSchema)


class CustomerIn(StrictSchema):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    external_id: str = Field(default="", max_length=100)
    preferred_language: str = Field(default="", pattern=r"^(|en|de|fr|es)$")


class CustomerOut(Schema):
    id: str
    object: str = "customer"
    name: str
    email: str
    external_id: str
    preferred_language: str
    preferences_url: str | None = None
    created_at: dt.datetime


class LineIn(StrictSchema):
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    unit_amount: int = Field(ge=0, le=10**13, description="Minor units")
    tax_rate: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=3)


class InvoiceIn(StrictSchema):
    customer: str = Field(description="Customer id (cus_…)")
    currency: str = Field(min_length=3, max_length=3)
    due_date: dt.date
    issue_date: dt.date | None = None
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    notes: str = Field(default="", max_length=5000)
    allow_partial_payments: bool = False
    minimum_payment: int | None = Field(default=None, ge=1, description="Minor units")


class LineOut(Schema):
    description: str
    quantity: Decimal
    unit_amount: int
    tax_rate: Decimal
    amount: int
    tax_amount: int


class InvoiceOut(Schema):
    id: str
    object: str = "invoice"
    number: str
    status: str
    customer: str
    currency: str
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    amount_credited: int = Field(description="Credit notes applied, minor units")
    amount_due: int
    issue_date: dt.date
    due_date: dt.date
    notes: str
    allow_partial_payments: bool
    minimum_payment: int | None
    lines: list[LineOut]
    created_at: dt.datetime


class InvoiceList(Schema):
    object: str = "list"
    data: list[InvoiceOut]
    page: int
    page_size: int
    total_count: int
    has_more: bool


class LinkOut(Schema):
    token: str
    url: str
    expires_at: dt.datetime | None = None


class LinkIn(StrictSchema):
    expires_at: dt.datetime | None = None


def body_of(request: HttpRequest, schema: type[S]) -> S:
    """The JSON body of ``request`` validated by ``schema``, for object routes that must look
    the object up first (another company's id answers 404 whatever the body), in the API's
    error shape: 400 with the field."""
    raw = request.body.strip() or b"{}"
    try:
        return schema.model_validate_json(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "extra_forbidden":
            raise ApiError(400, "unknown_field", f"Unknown field: {field}.", field) from None
        if first["type"] == "json_invalid":
            raise ApiError(400, "invalid", "The body is not valid JSON.") from None
        raise ApiError(400, "invalid", str(first["msg"]), field) from None


def body_doc(schema: type[StrictSchema]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads its body with body_of()."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema.model_json_schema()}},
        }
    }
