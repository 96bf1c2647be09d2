"""The one validation layer (core.validation.InputValidationMiddleware): input no view could
store answers 400 in the error shape, whatever the route, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from invoices.models import Company
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(response: Any) -> None:
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize(
    "path",
    [
        "/invoice/abc%00def",
        "/portal/%00",
        "/preferences/x%00.json",
        "/admin/invoices/invoice/?q=%00",
        "/api/v1/invoices?status=%00",
        "/portal/x?page=99999999999999999999999",
    ],
)
def test_it_refuses_nul_bytes_and_huge_numbers_in_urls(client: Any, path: str) -> None:
    _refused(client.get(path))


def test_it_refuses_a_lone_surrogate_in_a_comment(client: Any, tenant: Company) -> None:
    token = factories.share_token(factories.make_invoice(tenant))
    body = '{"name": "A", "email": "a@example.com", "body": "\\ud800"}'
    _refused(client.post(f"/invoice/{token}/comments", body, content_type="application/json"))


def test_it_refuses_nul_bytes_in_a_form_post(client: Any, tenant: Company) -> None:
    token = factories.share_token(factories.make_invoice(tenant))
    _refused(client.post(f"/invoice/{token}/comments", {"name": "A\x00", "body": "x"}))


@pytest.mark.parametrize(
    "payload", [{"amount": 2**70}, {"lines": [{"unit_amount": -(2**64)}]}, {"x": "a\u0000b"}]
)
def test_it_refuses_json_no_column_could_hold(client: Any, api_key: str, payload: Any) -> None:
    response = client.post(
        "/api/v1/invoices",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    _refused(response)


def test_it_refuses_deeply_nested_json(client: Any) -> None:
    body = "[" * 50 + "]" * 50
    _refused(client.patch("/preferences/x.json", body, content_type="application/json"))


def test_it_passes_ordinary_input_through(client: Any, tenant: Company) -> None:
    token = factories.share_token(factories.make_invoice(tenant))
    assert client.get(f"/invoice/{token}?page=2").status_code == 200


def test_it_answers_nested_arrays_in_the_preferences_patch_with_the_error_shape(
    client: Any, tenant: Company
) -> None:
    from preferences.services import email_preference_ensure, email_preference_token

    preference = email_preference_ensure(company_id=tenant.pk, email="ada@example.com")
    response = client.patch(
        f"/preferences/{email_preference_token(preference)}.json",
        '{"documents": [[true]]}',
        content_type="application/json",
    )
    assert response.status_code in (400, 422)
    assert "error" in response.json()
