"""QR codes for authenticator apps, drawn here (no image service sees the secret)."""

from __future__ import annotations

import base64
import io
from base64 import b32encode
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg

from invoices.models import Invoice

from .models import CustomerTotpDevice


def otpauth_url(*, device: CustomerTotpDevice, invoice: Invoice) -> tuple[str, str]:
    """The ``otpauth://`` URL an authenticator app scans, and the secret in base32."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    issuer = invoice.company.name.replace(":", "")
    label = f"{issuer}:{invoice.customer.email}"
    params = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{quote(label)}?{params}", secret


def qr_data_uri(text: str) -> str:
    """An SVG QR code as a ``data:`` URI, allowed by the pages' ``img-src 'self' data:``."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
