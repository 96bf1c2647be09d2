"""Writes (and the one permission question) for email preferences.

Every sending path asks ``can_email`` through preferences.emails; preference changes go through
``email_preferences_update``, which writes an audit row naming the company.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from invoices import events
from invoices.customization.domains import company_origin
from invoices.models import Company
from invoices.tokens import make_token, new_selector
from invoices.webhooks.services import event_emit
from preferences.models import EmailCategory, EmailPreference

PREFERENCES_TOKEN_PURPOSE = "email-preferences"  # noqa: S105 (a salt label, not a secret)
CATEGORIES: tuple[str, ...] = tuple(EmailCategory.values)


class PreferenceInputError(ApplicationError):
    """A preferences body we refuse whole; ``code``/``message``/``field`` form the API error."""

    # Three booleans fit in 60 bytes; anything near this limit is not a preferences update.
    MAX_BODY_BYTES = 1024

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field, status=400)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        raise PreferenceInputError("invalid", "Duplicate key in the JSON object.")
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise PreferenceInputError("invalid", f"{name} is not valid JSON.")


def validate_preference_changes(*, body: bytes, content_type: str) -> dict[str, bool]:
    """The changes a PATCH body asks for: a JSON object whose keys are known categories and
    whose values are JSON ``true``/``false``. Anything else raises PreferenceInputError:
    other keys, strings like ``"true"``, numbers, null, nested objects, arrays, duplicate keys,
    bodies over MAX_BODY_BYTES, malformed JSON, another content type."""
    if content_type != "application/json":
        raise PreferenceInputError("invalid", "Send the body as application/json.")
    if len(body) > PreferenceInputError.MAX_BODY_BYTES:
        raise PreferenceInputError("too_large", "The body is too large.")
    try:
        data = json.loads(
            body.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError):
        raise PreferenceInputError("invalid", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise PreferenceInputError("invalid", "The body must be a JSON object.")
    for key, value in data.items():
        if key not in CATEGORIES:
            raise PreferenceInputError("unknown_field", f"Unknown field: {key[:40]}.", key[:40])
        # bool only: json gives True/False for true/false; 1, "true" and null are refused.
        if type(value) is not bool:
            raise PreferenceInputError("invalid", f"{key} must be true or false.", key)
    return data


def normalize_email(email: str) -> str:
    # Addresses are compared case-insensitively in practice; one row per address and company.
    return email.strip().lower()


def email_preference_token(preference: EmailPreference) -> str:
    return make_token(preference.selector, purpose=PREFERENCES_TOKEN_PURPOSE)


def email_preferences_url(preference: EmailPreference) -> str:
    """On the company's own domain when it has one (``preference.company``: pass it loaded)."""
    origin = company_origin(preference.company)
    return f"{origin}/preferences/{email_preference_token(preference)}"


def email_unsubscribe_url(preference: EmailPreference, *, category: str) -> str:
    token = email_preference_token(preference)
    origin = company_origin(preference.company)
    return f"{origin}/unsubscribe/{token}?c={EmailCategory(category).value}"


def email_preference_ensure(*, company_id: int, email: str) -> EmailPreference:
    """The address's preferences row, created with the defaults if there is none yet.
    One query when it exists (by company id, so callers need not load the company)."""
    address = normalize_email(email)
    existing = EmailPreference.objects.filter(company_id=company_id, email=address).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return EmailPreference.objects.create(
                company_id=company_id, email=address, selector=new_selector()
            )
    except IntegrityError:
        # A concurrent sender created it first: use theirs (one row, one token per address).
        return EmailPreference.objects.get(company_id=company_id, email=address)


def can_email(*, company: Company, email: str, category: str) -> bool:
    """Whether ``email`` accepts ``category`` mail from ``company``. An address with no row
    yet has the defaults (documents and reminders on, marketing off)."""
    field = EmailCategory(category).value
    allowed = (
        EmailPreference.objects.filter(company=company, email=normalize_email(email))
        .values_list(field, flat=True)
        .first()
    )
    if allowed is None:
        return EmailPreference().allows(field)  # the model's defaults
    return bool(allowed)


@transaction.atomic
def email_preferences_update(
    *, preference: EmailPreference, changes: Mapping[str, bool], source: str
) -> EmailPreference:
    """Set the given categories (only known ones, only booleans: callers validate first; this
    refuses anything else as a programming error). ``source`` says where the change came from
    (page, json, one_click, …) for the audit trail."""
    unknown = set(changes) - set(CATEGORIES)
    if unknown or not all(isinstance(value, bool) for value in changes.values()):
        raise ValueError(f"Invalid preference changes: {dict(changes)!r}")
    locked = EmailPreference.objects.select_for_update().get(pk=preference.pk)
    changed = {key: value for key, value in changes.items() if getattr(locked, key) != value}
    if changed:
        for key, value in changed.items():
            setattr(locked, key, value)
        locked.save(update_fields=[*changed, "updated_at"])
        events.record(
            company=preference.company,
            action="email_preferences.updated",
            object_id=str(locked.pk),
            source=source,
            changes=changed,
        )
        event_emit(
            company=preference.company,
            type="preferences.updated",
            object_id=locked.email,
            data={
                "object": "email_preferences",
                "email": locked.email,
                **{key: getattr(locked, key) for key in CATEGORIES},
                "changed": sorted(changed),
                "source": source,
            },
        )
    for key in CATEGORIES:
        setattr(preference, key, getattr(locked, key))
    preference.updated_at = locked.updated_at
    return preference


def email_unsubscribe(
    *, preference: EmailPreference, category: str | None, source: str
) -> EmailPreference:
    """Turn one category off, or every category with ``category=None``."""
    categories = CATEGORIES if category is None else (EmailCategory(category).value,)
    return email_preferences_update(
        preference=preference, changes=dict.fromkeys(categories, False), source=source
    )
