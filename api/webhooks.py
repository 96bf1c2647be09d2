"""Webhook endpoints: ``POST``/``GET /api/v1/webhook-endpoints``, ``GET``/``DELETE`` one, and
rotating its signing secret."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from api.auth import company_of
from api.errors import not_found
from api.examples import described
from api.schemas import StrictSchema
from invoices.webhooks import services
from invoices.webhooks.models import WebhookEndpoint

router = Router(tags=["webhooks"])

EventType = Literal[
    "invoice.finalized",
    "invoice.viewed",
    "invoice.paid",
    "invoice.voided",
    "payment.succeeded",
    "payment.refunded",
    "credit_note.created",
    "comment.created",
    "customer.updated",
    "preferences.updated",
]

SIGNING = (
    'Each event is POSTed as JSON `{"id", "type", "timestamp", "data"}` and signed per '
    "Standard Webhooks: headers `webhook-id`, `webhook-timestamp` and `webhook-signature: "
    'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed with the base64 part of the '
    "`whsec_` secret. Any non-2xx answer is retried with back-off for about a day."
)


class WebhookEndpointIn(StrictSchema):
    url: str = Field(max_length=2000, description="https URL of your receiver")
    events: list[EventType] = Field(min_length=1, max_length=20)
    description: str = Field(default="", max_length=200)


class WebhookEndpointOut(Schema):
    id: str = Field(description="we_…")
    object: str = "webhook_endpoint"
    url: str
    events: list[str]
    description: str
    status: str = Field(description="enabled, or disabled after failing for a day")
    created_at: dt.datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(description="whsec_…: shown this once; sign-verify with it")


class WebhookSecretOut(Schema):
    id: str
    secret: str = Field(description="The new whsec_… secret, shown this once")
    previous_secret_expires_at: dt.datetime = Field(
        description="Until then the old secret also signs every event"
    )


class WebhookEndpointList(Schema):
    object: str = "list"
    data: list[WebhookEndpointOut]


def endpoint_out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.public_id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        status="enabled" if endpoint.is_active else "disabled",
        created_at=endpoint.created_at,
    )


def get_endpoint(request: HttpRequest, endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(
        company=company_of(request), public_id=endpoint_id
    ).first()
    if endpoint is None:
        raise not_found("Webhook endpoint")
    return endpoint


@router.post(
    "/webhook-endpoints",
    response={201: WebhookEndpointCreated},
    **described(
        "Create a webhook endpoint",
        "POST",
        "/webhook-endpoints",
        {"url": "https://example.com/hooks/billing", "events": ["invoice.paid", "invoice.viewed"]},
        "The answer carries the signing `secret`, shown this once. " + SIGNING,
    ),
)
def create_endpoint(
    request: HttpRequest, payload: WebhookEndpointIn
) -> Status[WebhookEndpointCreated]:
    endpoint, secret = services.endpoint_create(
        company=company_of(request),
        url=payload.url,
        events_=list(payload.events),
        description=payload.description,
    )
    return Status(201, WebhookEndpointCreated(**endpoint_out(endpoint).model_dump(), secret=secret))


@router.get(
    "/webhook-endpoints",
    response=WebhookEndpointList,
    **described("List webhook endpoints", "GET", "/webhook-endpoints", None),
)
def list_endpoints(request: HttpRequest) -> WebhookEndpointList:
    endpoints = WebhookEndpoint.objects.filter(company=company_of(request))
    return WebhookEndpointList(data=[endpoint_out(endpoint) for endpoint in endpoints])


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response=WebhookEndpointOut,
    **described("Retrieve a webhook endpoint", "GET", "/webhook-endpoints/we_123", None),
)
def retrieve_endpoint(request: HttpRequest, endpoint_id: str) -> WebhookEndpointOut:
    return endpoint_out(get_endpoint(request, endpoint_id))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    response={204: None},
    **described(
        "Delete a webhook endpoint",
        "DELETE",
        "/webhook-endpoints/we_123",
        None,
        "Nothing more is sent to it, retries included.",
    ),
)
def delete_endpoint(request: HttpRequest, endpoint_id: str) -> Status[None]:
    services.endpoint_delete(endpoint=get_endpoint(request, endpoint_id))
    return Status(204, None)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response=WebhookSecretOut,
    **described(
        "Rotate a webhook endpoint's secret",
        "POST",
        "/webhook-endpoints/we_123/rotate-secret",
        None,
        "A new secret, shown this once; for 24 hours events carry a signature with each "
        "secret, so your receiver can switch without missing one.",
    ),
)
def rotate_endpoint_secret(request: HttpRequest, endpoint_id: str) -> WebhookSecretOut:
    endpoint = get_endpoint(request, endpoint_id)
    secret = services.endpoint_secret_rotate(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_expires_at is not None
    return WebhookSecretOut(
        id=endpoint.public_id,
        secret=secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )
