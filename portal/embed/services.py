"""Writes for the embed: settings, the secret and its rotation, translation resources."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from core.crypto import encrypt_secret
from invoices import events
from invoices.events import Actor
from invoices.models import Company
from portal.embed.models import EmbedSecret, EmbedSettings
from portal.embed.validation import validate_translation_resource

SECRET_PREFIX = "emb_"  # noqa: S105 (a label, not a secret)
DEFAULT_ROTATION_GRACE = dt.timedelta(hours=24)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def embed_settings_save(*, settings: EmbedSettings, actor: Actor = None) -> EmbedSettings:
    """Validate and save the settings (created or changed). The secret is separate: see
    embed_secret_ensure and embed_secret_rotate, which return it for showing once."""
    settings.full_clean()
    created = settings.pk is None
    settings.save()
    events.record(
        company=settings.company,
        action="embed.settings_created" if created else "embed.settings_changed",
        actor=actor,
        mode=settings.mode,
        allowed_origins=list(settings.allowed_origins),
    )
    return settings


@transaction.atomic
def embed_secret_ensure(*, company: Company, actor: Actor = None) -> str | None:
    """Give the company a secret if it has none. Returns the new secret (to show once), or
    None when one already existed."""
    if EmbedSecret.objects.select_for_update().filter(company=company).exists():
        return None
    return embed_secret_rotate(company=company, grace=dt.timedelta(0), actor=actor)


@transaction.atomic
def embed_secret_rotate(
    *, company: Company, grace: dt.timedelta = DEFAULT_ROTATION_GRACE, actor: Actor = None
) -> str:
    """A new current secret; the old one stays accepted for ``grace`` (zero: revoked now, for a
    leaked secret). Returns the new secret: the only time it is shown in plain text."""
    new = _new_secret()
    now = timezone.now()
    secret = EmbedSecret.objects.select_for_update().filter(company=company).first()
    if secret is None:
        EmbedSecret.objects.create(company=company, secret_encrypted=encrypt_secret(new))
    else:
        secret.previous_secret_encrypted = secret.secret_encrypted if grace else ""
        secret.previous_valid_until = now + grace if grace else None
        secret.secret_encrypted = encrypt_secret(new)
        secret.rotated_at = now
        secret.save(
            update_fields=[
                "previous_secret_encrypted",
                "previous_valid_until",
                "secret_encrypted",
                "rotated_at",
            ]
        )
    events.record(
        company=company,
        action="embed.secret_rotated",
        actor=actor,
        grace_seconds=int(grace.total_seconds()),
    )
    return new


@transaction.atomic
def embed_translation_set(
    *, settings: EmbedSettings, language: str, resource: dict[str, str], actor: Actor = None
) -> EmbedSettings:
    """Replace the company's custom strings for one language (an empty resource removes it)."""
    validate_translation_resource(resource)
    translations = dict(settings.translations)
    if resource:
        translations[language] = resource
    else:
        translations.pop(language, None)
    settings.translations = translations
    settings.full_clean()
    settings.save(update_fields=["translations", "updated_at"])
    events.record(
        company=settings.company,
        action="embed.translation_set",
        actor=actor,
        language=language,
        messages=len(resource),
    )
    return settings
