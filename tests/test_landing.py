"""``/`` is a small landing page (demo links only under DEBUG); ``make api-key`` prints a key."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from invoices import services
from invoices.models import Company, Customer
from tests import factories

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def acme(db: Any) -> Company:
    return factories.make_company(slug="acme", name="Acme Studio", plan="pro")


def _demo_links(acme: Company) -> tuple[str, str]:
    customer: Customer = factories.make_customer(acme, name="Wile E.", email="wile@example.com")
    invoice = factories.make_invoice(acme, customer, lines=1)
    invoice_token = services.share_link_token(services.share_link_create(invoice=invoice))
    portal_token = services.share_link_token(services.portal_link_create(customer=customer))
    return invoice_token, portal_token


@pytest.mark.django_db
def test_it_links_the_admin_and_the_api_docs(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Invoice Portal" in html
    assert 'href="/admin/"' in html
    assert 'href="/api/v1/docs"' in html


def test_it_lists_the_demo_links_under_debug(client: Any, acme: Company, settings: Any) -> None:
    settings.DEBUG = True
    invoice_token, portal_token = _demo_links(acme)
    html = client.get("/").content.decode()
    assert f'href="/invoice/{invoice_token}"' in html
    assert f'href="/portal/{portal_token}"' in html


def test_it_never_lists_demo_links_in_production(client: Any, acme: Company, settings: Any) -> None:
    settings.DEBUG = False
    invoice_token, portal_token = _demo_links(acme)
    html = client.get("/").content.decode()
    assert invoice_token not in html
    assert portal_token not in html
    assert "/invoice/" not in html


@pytest.mark.django_db
def test_unknown_paths_still_answer_404(client: Any) -> None:
    assert client.get("/no-such-page").status_code == 404
    response = client.get("/invoice/no-such-token/extra")
    assert response.status_code == 404
    assert "Invoice not found" in response.content.decode()


def test_make_api_key_needs_a_company() -> None:
    result = subprocess.run(
        ["make", "-s", "api-key"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "make api-key COMPANY=" in result.stderr


def test_make_api_key_prints_only_the_key(tmp_path: Path) -> None:
    # A database of its own (the test database is not committed): migrate it, add a company,
    # then the README's command.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DEBUG": "1"}
    env.pop("SECRET_KEY", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    for args in (["migrate", "-v", "0"], ["create_company", "acme", "--name", "Acme Studio"]):
        subprocess.run(
            [python, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    result = subprocess.run(
        ["make", "-s", "api-key", "COMPANY=acme"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 30 and " " not in lines[0]
    missing = subprocess.run(
        ["make", "-s", "api-key", "COMPANY=nobody"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert missing.returncode != 0
