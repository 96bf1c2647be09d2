"""Shared fixtures: a tenant with its staff, another tenant, and an outsider (healthchecks' three
people). Celery runs eagerly in tests (settings); the cache is cleared between tests. The local
Stripe emulator (``emulator``) comes from ``tests/stripe_fixtures.py``."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from invoices.models import Company, Customer
from invoices.models.company import Role
from tests import factories

pytest_plugins = ["tests.stripe_fixtures"]


def pytest_configure(config: Any) -> None:
    # Staff users are created in hundreds of tests: the production hasher costs ~0.24 s each,
    # MD5 nothing. Tests never check a hash's strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language() -> Any:
    """Each test starts in the default language, whatever language an earlier request left the
    thread in (the test client runs views in this thread)."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def tenant(db: Any) -> Company:
    return factories.make_company(slug="tenant", name="Tenant Ltd", plan="pro")


@pytest.fixture
def other_tenant(db: Any) -> Company:
    return factories.make_company(slug="other", name="Other Corp")


@pytest.fixture
def staff(tenant: Company) -> Any:
    """A billing manager of ``tenant``: may read and manage invoices."""
    return factories.make_staff(tenant, Role.MANAGER, username="staff")


@pytest.fixture
def owner(tenant: Company) -> Any:
    """The owner of ``tenant``: also manages its staff, API keys, secrets and settings."""
    return factories.make_staff(tenant, Role.OWNER, username="owner")


@pytest.fixture
def viewer(tenant: Company) -> Any:
    """Read-only staff of ``tenant``."""
    return factories.make_staff(tenant, Role.VIEWER, username="viewer")


@pytest.fixture
def outsider(other_tenant: Company) -> Any:
    """Staff of another company: must never see ``tenant``'s data."""
    return factories.make_staff(other_tenant, Role.OWNER, username="outsider")


@pytest.fixture
def customer(tenant: Company) -> Customer:
    return factories.make_customer(tenant, name="Ada Lovelace", email="ada@example.com")


@pytest.fixture
def api_key(tenant: Company) -> str:
    from invoices.services import api_key_create

    return api_key_create(company=tenant)[1]


@pytest.fixture
def api_client(client: Any, api_key: str) -> Any:
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
    return client
