"""Writes that shape who works for a company and its settings: memberships (attached by email,
never picked from a global list of users), invitations, company settings and credit notes
entered by staff. Each writes an audit row naming the tenant (invoices.events)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from invoices import events
from invoices.events import Actor
from invoices.models import Company, CreditNote, Membership, StaffInvitation
from invoices.models.company import Role

INVITATION_VALID_FOR = dt.timedelta(days=7)
INVITATION_PATH = "/staff/invitation/"


class StaffError(ApplicationError):
    pass


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _send_invitation(*, email: str, company_name: str, url: str) -> None:
    send_mail(
        subject=_("You are invited to %(company)s on the invoice portal")
        % {"company": company_name},
        message=_(
            "%(company)s invites you to work on its invoices.\n\n"
            "Create your account with this link (it works once, for 7 days):\n%(url)s\n"
        )
        % {"company": company_name, "url": url},
        from_email=None,
        recipient_list=[email],
    )


@transaction.atomic
def membership_invite(
    *, company: Company, email: str, role: str, actor: Actor = None
) -> Membership | StaffInvitation:
    """Attach the one active account with this email, or invite the address by email."""
    email = email.strip()
    if role not in Role.values:
        raise StaffError("invalid_role", _("Choose a role."), field="role")
    users = list(User.objects.filter(email__iexact=email, is_active=True)[:2])
    if len(users) == 1:
        user = users[0]
        if Membership.objects.filter(user=user, company=company).exists():
            raise StaffError(
                "already_member", _("This person already works for the company."), field="email"
            )
        membership = Membership.objects.create(user=user, company=company, role=role)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        events.record(
            company=company,
            action="membership.added",
            object_id=str(membership.pk),
            actor=actor,
            email=email,
            role=role,
        )
        return membership
    token = secrets.token_urlsafe(32)
    StaffInvitation.objects.filter(
        company=company, email__iexact=email, accepted_at__isnull=True
    ).delete()
    invitation = StaffInvitation.objects.create(
        company=company,
        email=email,
        role=role,
        token_hash=_token_hash(token),
        invited_by=events.acting_user(actor),
    )
    url = settings.PUBLIC_BASE_URL + INVITATION_PATH + token
    transaction.on_commit(lambda: _send_invitation(email=email, company_name=company.name, url=url))
    events.record(
        company=company,
        action="membership.invited",
        object_id=str(invitation.pk),
        actor=actor,
        email=email,
        role=role,
    )
    return invitation


def invitation_for_token(token: str) -> StaffInvitation | None:
    """The pending, unexpired invitation behind an emailed link, or None."""
    invitation = (
        StaffInvitation.objects.select_related("company")
        .filter(token_hash=_token_hash(token), accepted_at__isnull=True)
        .first()
    )
    if invitation is None or timezone.now() - invitation.created_at > INVITATION_VALID_FOR:
        return None
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> Membership:
    """Create the invited person's staff account and membership; the link works once."""
    invitation = invitation_for_token(token)
    if invitation is None:
        raise StaffError("invitation_invalid", _("This invitation is no longer valid."), status=404)
    claimed = StaffInvitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=timezone.now()
    )
    if claimed != 1:
        raise StaffError("invitation_invalid", _("This invitation is no longer valid."), status=404)
    if User.objects.filter(username__iexact=username).exists():
        raise StaffError("username_taken", _("This username is taken."), field="username")
    user = User.objects.create_user(
        username=username, email=invitation.email, password=password, is_staff=True
    )
    membership = Membership.objects.create(
        user=user, company=invitation.company, role=invitation.role
    )
    events.record(
        company=invitation.company,
        action="membership.accepted",
        object_id=str(membership.pk),
        actor=user,
        email=invitation.email,
        role=invitation.role,
    )
    return membership


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, actor: Actor = None) -> None:
    if role not in Role.values:
        raise StaffError("invalid_role", _("Choose a role."), field="role")
    before = Membership.objects.select_for_update().get(pk=membership.pk).role
    membership.role = role
    membership.save(update_fields=["role"])
    events.record(
        company=membership.company,
        action="membership.role_changed",
        object_id=str(membership.pk),
        actor=actor,
        before=before,
        after=role,
    )


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Actor = None) -> None:
    events.record(
        company=membership.company,
        action="membership.removed",
        object_id=str(membership.pk),
        actor=actor,
        user=membership.user.get_username(),
        role=membership.role,
    )
    membership.delete()


@transaction.atomic
def company_settings_save(*, company: Company, changed: list[str], actor: Actor = None) -> Company:
    company.save()
    events.record(
        company=company,
        action="company.settings_changed",
        object_id=str(company.pk),
        actor=actor,
        fields=sorted(changed),
    )
    return company


@transaction.atomic
def credit_note_save(*, note: CreditNote, changed: list[str], actor: Actor = None) -> CreditNote:
    created = note.pk is None
    note.save()
    events.record(
        company=note.company,
        action="credit_note.created" if created else "credit_note.changed",
        object_id=note.public_id,
        actor=actor,
        amount=note.amount,
        currency=note.currency,
        status=note.status,
        fields=sorted(changed),
    )
    return note


@transaction.atomic
def credit_note_delete(*, note: CreditNote, actor: Actor = None) -> None:
    events.record(
        company=note.company,
        action="credit_note.deleted",
        object_id=note.public_id,
        actor=actor,
        amount=note.amount,
        currency=note.currency,
    )
    note.delete()
