"""Staff authenticators (TOTP, django-otp) that staff set up themselves in the admin.

Setting one up makes an unconfirmed device whose secret is shown once as a QR code; it becomes
the account's authenticator only when a code from the app confirms it. Replacing it, or
removing it, takes a code of the current one, so a borrowed signed-in session cannot move the
second factor to another phone. An account whose company requires an authenticator (owners,
invoices.sign_in.otp_required) cannot remove it, only replace it. Each change is audited in
every company the account works for.
"""

from __future__ import annotations

import logging

import qrcode
import qrcode.image.svg
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import ApplicationError
from invoices import events, sign_in
from invoices.models import Membership

logger = logging.getLogger("invoices.authenticators")

DEVICE_NAME = "Authenticator app"


class AuthenticatorRefused(ApplicationError):
    """A code that does not match, or a change the account may not make (400)."""

    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(code, message, field, 400)


def authenticator_active(user: User) -> TOTPDevice | None:
    """The account's confirmed authenticator, if it has one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def authenticator_pending(user: User) -> TOTPDevice:
    """The authenticator being set up (unconfirmed): the one shown before, or a new secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def authenticator_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (no script, no external image)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return str(image.to_string(encoding="unicode"))


def authenticator_secret(device: TOTPDevice) -> str:
    """The secret in the base32 form apps accept when typed, in groups of four."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _code_matches(device: TOTPDevice | None, code: str) -> bool:
    code = "".join(code.split())
    return device is not None and code.isdigit() and bool(device.verify_token(code))


def _audit(user: User, action: str) -> None:
    memberships = Membership.objects.filter(user=user).select_related("company")
    for membership in memberships:
        events.record(
            company=membership.company, action=action, object_id=user.username, actor=user
        )
    logger.info("%s account=%s", action, user.username)


def authenticator_confirm(*, user: User, code: str, current_code: str = "") -> TOTPDevice:
    """Make the pending authenticator the account's, once ``code`` from it matches; replacing
    a confirmed one also takes ``current_code`` from that one. Audited."""
    current = authenticator_active(user)
    pending = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if pending is None:
        raise AuthenticatorRefused(
            _("Scan the QR code again: the setup was restarted."), code="no_pending_device"
        )
    if current is not None and not _code_matches(current, current_code):
        raise AuthenticatorRefused(
            _("The code from your current authenticator app is not right."),
            code="current_code_invalid",
            field="current_code",
        )
    if not _code_matches(pending, code):
        raise AuthenticatorRefused(
            _("That code is not right. Enter the six digits the app shows now."),
            code="code_invalid",
            field="code",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=pending.pk).delete()
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        _audit(user, "staff.authenticator_replaced" if current else "staff.authenticator_enrolled")
    return pending


def authenticator_remove(*, user: User, current_code: str) -> None:
    """Remove the account's authenticator (a code of it is needed). Refused to an account that
    must have one: it can replace it instead. Audited."""
    current = authenticator_active(user)
    if current is None:
        raise AuthenticatorRefused(_("You have no authenticator app set up."), code="no_device")
    if sign_in.otp_required(user):
        raise AuthenticatorRefused(
            _(
                "Your company requires an authenticator app for owners: you can replace it, "
                "not remove it."
            ),
            code="otp_required",
        )
    if not _code_matches(current, current_code):
        raise AuthenticatorRefused(
            _("The code from your current authenticator app is not right."),
            code="current_code_invalid",
            field="current_code",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        _audit(user, "staff.authenticator_removed")


def enrolment_pending(user: User) -> bool:
    """Signed in with the password but must still set up the authenticator their company
    requires: such a session reaches nothing but the setup page (and signing out)."""
    return (
        user.is_authenticated
        and not _verified(user)
        and sign_in.otp_required(user)
        and authenticator_active(user) is None
    )


def _verified(user: User) -> bool:
    # OTPMiddleware gives the request's user is_verified(); the user a sign-in has just
    # logged in is a fresh object, verified when the sign-in form accepted a code.
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None:
        return bool(is_verified())
    return getattr(user, "otp_device", None) is not None
