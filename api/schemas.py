"""API shapes. Inputs forbid unknown fields; money is an integer in minor units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.db.models import Model
from django.http import HttpRequest
from ninja import Schema
from pydantic import ConfigDict, EmailStr, Field, create_model
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


class CustomerFields(Schema):
    id: str = Field(description="cus_…")
    object: str = "customer"
    name: str
    email: str
    external_id: str
    preferred_language: str
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    preferences_url: str | None = None
    created_at: dt.datetime


VatCategoryCode = Literal["", "S", "Z", "E", "AE", "K", "G", "O"]


class LineIn(StrictSchema):
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    unit_amount: int = Field(ge=0, le=10**13, description="Minor units")
    tax_rate: Decimal = Field(default=Decimal(0), ge=0, le=100, decimal_places=3)
    vat_category: VatCategoryCode = Field(
        default="",
        description="UNCL 5305: S standard, Z zero rated, E exempt, AE reverse charge, "
        "K intra-community, G export, O outside the scope; empty: S when tax_rate > 0, else Z",
    )
    vat_exemption_reason: str = Field(
        default="", max_length=200, description="Why no VAT is charged (E, AE, K, G, O)"
    )
    unit_code: str = Field(
        default="C62", pattern=r"^[A-Z0-9]{2,3}$", description="UN/ECE Rec 20 unit, e.g. HUR"
    )


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
    vat_category: str = Field(description="UNCL 5305 VAT category")
    vat_exemption_reason: str
    unit_code: str = Field(description="UN/ECE Rec 20 unit")
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


class VoidIn(StrictSchema):
    # What becomes of money paid on the invoice; required (else 409) only when it has some.
    payments: Literal["refund", "credit"] | None = None


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


# Fields that appear in the API once the model has them ------------------------------------
#
# Each entry: the API name (also the model field's name), its type and its constraints. A PATCH
# schema offers every entry whose model field exists, all optional; an answer shows the same
# fields. To offer a new column, add one line here: no route changes.

FieldSpec = tuple[Any, Any]


def present_fields(model: type[Model], specs: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
    names = {field.name for field in model._meta.concrete_fields}
    return {name: spec for name, spec in specs.items() if name in names}


def patch_schema(name: str, specs: dict[str, FieldSpec]) -> Any:
    """A strict schema whose fields are all optional (absent: unchanged; ``null`` only where
    the type allows it). The route reads ``model_fields_set`` to know what was sent."""
    fields: dict[str, Any] = {}
    for field_name, (annotation, info) in specs.items():
        fields[field_name] = (annotation, Field(None, **info))
    return create_model(name, __base__=StrictSchema, **fields)


def sent_fields(payload: Any) -> dict[str, Any]:
    """What a PATCH body sent, by name; a ``null`` is refused unless the type allows it."""
    return {name: getattr(payload, name) for name in payload.model_fields_set}


def out_schema(name: str, base: type[Schema], specs: dict[str, FieldSpec]) -> Any:
    fields: dict[str, Any] = {
        field_name: (annotation | None, Field(None, description=info.get("description")))
        for field_name, (annotation, info) in specs.items()
    }
    return create_model(name, __base__=base, **fields)


_EAS = {
    "pattern": r"^(|[0-9]{4}|EM)$",
    "description": "Electronic Address Scheme of electronic_address: 0088, 0204, 9930, EM…",
}
_LANGUAGE = {"pattern": r"^(|en|de|fr|es)$", "description": "en, de, fr, es or empty"}

# Customer fields beyond the create fields. ``tax_id`` and ``buyer_reference`` appear once the
# Customer model has them.
CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "name": (str, {"min_length": 1, "max_length": 200}),
    "email": (EmailStr, {}),
    "external_id": (str, {"max_length": 100}),
    "preferred_language": (str, _LANGUAGE),
    "address_line1": (str, {"max_length": 200}),
    "address_line2": (str, {"max_length": 200}),
    "postal_code": (str, {"max_length": 20}),
    "city": (str, {"max_length": 100}),
    "region": (str, {"max_length": 100}),
    "country": (str, {"pattern": r"^(|[A-Z]{2})$", "description": "ISO 3166 alpha-2, upper case"}),
}
CUSTOMER_LATER_FIELDS: dict[str, FieldSpec] = {
    "tax_id": (str, {"max_length": 64, "description": "VAT or other tax id"}),
    "buyer_reference": (str, {"max_length": 200, "description": "The buyer's reference"}),
    "phone": (str, {"max_length": 40, "description": "Phone number"}),
    "electronic_address": (
        str,
        {"max_length": 200, "description": "Where e-invoices reach the buyer (Peppol endpoint)"},
    ),
    "electronic_address_scheme": (str, _EAS),
}


class TrustedSite(StrictSchema):
    """A site the company's custom CSS and JavaScript may load from, and for what."""

    origin: str = Field(max_length=300, description="An https origin, like https://cdn.example.com")
    kinds: list[Literal["img", "script", "style", "connect", "frame", "font"]] = Field(
        min_length=1, max_length=6
    )


# The company settings the API shows and changes. Other features add their own entries here
# (bank details, e-invoice formats, portal settings) when their fields exist on Company.
COMPANY_FIELDS: dict[str, FieldSpec] = {
    "name": (str, {"min_length": 1, "max_length": 200}),
    "email": (EmailStr | Literal[""], {"description": "Where notices to the company go"}),
    "brand_color": (str, {"pattern": r"^#[0-9a-fA-F]{6}$", "description": "Like #1d4ed8"}),
    "language": (str, {"pattern": r"^(en|de|fr|es)$", "description": "en, de, fr or es"}),
    "time_zone": (
        str,
        {"min_length": 1, "max_length": 64, "description": "IANA, e.g. Europe/Berlin"},
    ),
    "default_currency": (str, {"min_length": 3, "max_length": 3}),
    "address": (str, {"max_length": 2000, "description": "Postal address, one line per line"}),
    "tax_id": (str, {"max_length": 64, "description": "VAT or other tax id"}),
    "invoice_prefix": (str, {"pattern": r"^[A-Za-z0-9-]{1,12}$"}),
    "payment_terms_days": (
        int,
        {"ge": 0, "le": 365, "description": "A new invoice is due this many days after issue"},
    ),
    "reminder_days_before_due": (int, {"ge": 0, "le": 365}),
    "reminder_days_after_due": (int, {"ge": 0, "le": 365}),
    "comment_write_mode": (
        Literal["link", "email_code", "customer_session"],
        {"description": "Who may write comments on the customer pages"},
    ),
    "portal_editable_fields": (
        list[
            Literal[
                "name",
                "address",
                "billing_email",
                "phone",
                "tax_id",
                "buyer_reference",
                "language",
                "email",
                "preferred_language",
            ]
        ],
        {
            "max_length": 20,
            "description": "The billing details customers may change in the portal "
            "(/portal/<token>/billing-details); [] for none. email and preferred_language are "
            "accepted for billing_email and language.",
        },
    ),
    "advance_payments": (
        bool,
        {"description": "Customers may pay ahead from their portal; it becomes their credit"},
    ),
    "advance_payment_minimum": (
        int | None,
        {"ge": 1, "description": "Minor units; null: Stripe's minimum for the currency"},
    ),
    "advance_payment_maximum": (int | None, {"ge": 1, "description": "Minor units; null: none"}),
    "credit_auto_apply": (
        bool,
        {"description": "Apply the customer's credit to each invoice when it is finalized"},
    ),
    "portal_sign_in_url": (
        str,
        {
            "max_length": 500,
            "pattern": r"^(https?://\S+)?$",
            "description": "Single sign-on: the portal entry sends visitors to this page (with "
            "`return_to`, a page name); empty for email sign-in",
        },
    ),
    # The seller's structured address, telephone and VAT id (e-invoices).
    "phone": (str, {"max_length": 40, "description": "The contact telephone e-invoices carry"}),
    "street": (str, {"max_length": 200}),
    "postcode": (str, {"max_length": 20}),
    "city": (str, {"max_length": 100}),
    "country_code": (
        str,
        {"pattern": r"^(|[A-Z]{2})$", "description": "ISO 3166 alpha-2, upper case"},
    ),
    "vat_id": (str, {"max_length": 32, "description": "With its country prefix: DE123456789"}),
    "electronic_address": (
        str,
        {"max_length": 200, "description": "Where e-invoices reach the company (Peppol)"},
    ),
    "electronic_address_scheme": (str, _EAS),
    # Bank transfers (validated: IBAN check digits, BIC structure).
    "bank_account_holder": (str, {"max_length": 70}),
    "iban": (str, {"max_length": 42, "description": "Spaces allowed; stored compact"}),
    "bic": (str, {"max_length": 14}),
    "payment_reference_format": (
        Literal["invoice_number", "rf"],
        {"description": "What payers quote: the invoice number or an ISO 11649 RF reference"},
    ),
    "facturx_as_pdf": (
        bool,
        {"description": "Invoice PDFs are Factur-X (PDF/A-3b with the XML) when the data allows"},
    ),
    "einvoice_formats": (
        list[Literal["facturx", "xrechnung", "ubl"]],
        {"max_length": 3, "description": "E-invoice formats offered to customers"},
    ),
    "portal_domain": (
        str,
        {
            "max_length": 253,
            "description": "The company's own portal host name (e.g. billing.example.com); "
            "empty: the shared origin",
        },
    ),
    "portal_custom_css": (
        str,
        {"max_length": 50_000, "description": "A stylesheet added to every customer page"},
    ),
    "portal_custom_js": (
        str,
        {
            "max_length": 50_000,
            "description": "A script run only on the company's own portal domain (needs "
            "portal_domain)",
        },
    ),
    "portal_csp_trusted_sites": (
        list[TrustedSite],
        {"max_length": 20, "description": "Sites the custom CSS and JavaScript may load from"},
    ),
    "portal_analytics_id": (
        str,
        {
            "max_length": 253,
            "description": "A Google Analytics 4 measurement id (G-…) or a Plausible site domain",
        },
    ),
}


def _customer_schemas() -> tuple[Any, Any]:
    from invoices.models import Customer

    later = present_fields(Customer, CUSTOMER_LATER_FIELDS)
    return (
        out_schema("CustomerOut", CustomerFields, later),
        patch_schema("CustomerPatch", {**CUSTOMER_FIELDS, **later}),
    )


def _company_schemas() -> tuple[Any, Any]:
    from invoices.models import Company

    present = present_fields(Company, COMPANY_FIELDS)
    return out_schema("CompanyOut", CompanyBase, present), patch_schema("CompanyPatch", present)


CustomerOut, CustomerPatch = _customer_schemas()


class CustomerList(Schema):
    object: str = "list"
    data: list[CustomerOut]  # type: ignore[valid-type]
    page: int
    page_size: int
    total_count: int
    has_more: bool


class CompanyBase(Schema):
    id: str = Field(description="The company's public key (pub_…)")
    object: str = "company"
    slug: str
    plan: str


CompanyOut, CompanyPatch = _company_schemas()


class InvoicePatch(StrictSchema):
    """Any create field; ``lines`` replace every line of the draft."""

    customer: str = Field(None, description="Customer id (cus_…)")  # type: ignore[assignment,arg-type]
    currency: str = Field(None, min_length=3, max_length=3)  # type: ignore[assignment,arg-type]
    due_date: dt.date = Field(None)  # type: ignore[assignment,arg-type]
    issue_date: dt.date = Field(None)  # type: ignore[assignment,arg-type]
    lines: list[LineIn] = Field(None, min_length=1, max_length=1000)  # type: ignore[assignment,arg-type]
    notes: str = Field(None, max_length=5000)  # type: ignore[assignment,arg-type]
    allow_partial_payments: bool = Field(None)  # type: ignore[assignment,arg-type]
    minimum_payment: int | None = Field(None, ge=1, description="Minor units; null: none")
