"""Bank details and tax ids of the parties: validation, normal forms and display.

IBAN and BIC are checked with schwifty (ISO 13616 checksum, country lengths, BIC structure),
VAT ids of EU member states with python-stdnum (each country's check digits). Values are
stored in their compact form (no spaces, upper case) and grouped only for display.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

# UN/ECE Recommendation 20 "one" (a piece, a unit): the unit of a line nobody chose one for.
DEFAULT_UNIT_CODE = "C62"


def compact(value: str) -> str:
    return "".join(value.split()).upper()


def validate_iban(value: str) -> None:
    if not value:
        return
    try:
        IBAN(value)
    except SchwiftyException:
        raise ValidationError(
            _("This is not a valid IBAN (check the country code, length and check digits)."),
            code="invalid_iban",
        ) from None


def validate_bic(value: str) -> None:
    if not value:
        return
    try:
        BIC(value)
    except SchwiftyException:
        raise ValidationError(
            _("This is not a valid BIC (8 or 11 letters and digits)."), code="invalid_bic"
        ) from None


def validate_vat_id(value: str) -> None:
    """EU VAT ids (with their country prefix) must pass the country's check; ids of other
    countries (GB, CH, NO…) are taken as typed."""
    if not value:
        return
    number = compact(value)
    prefix = number[:2].lower()
    if prefix == "el":  # Greece's VAT prefix
        prefix = "gr"
    if prefix not in eu_vat.MEMBER_STATES:
        return
    try:
        eu_vat.validate(number)
    except StdnumError:
        raise ValidationError(
            _("This is not a valid VAT id (the country prefix and the check digits)."),
            code="invalid_vat_id",
        ) from None


def iban_display(iban: str) -> str:
    """``DE89370400440532013000`` -> ``DE89 3704 0044 0532 0130 00``."""
    value = compact(iban)
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


def creditor_reference(text: str) -> str:
    """An ISO 11649 structured creditor reference ("RF" + two check digits + up to 21
    letters and digits) made from ``text`` (an invoice number): banks carry it unchanged and
    reject a mistyped one."""
    base = "".join(char for char in text.upper() if char.isalnum())[:21] or "0"
    digits = "".join(str(int(char, 36)) for char in base + "RF00")
    return f"RF{98 - int(digits) % 97:02d}{base}"


def payment_reference(*, reference_format: str, number: str) -> str:
    """The reference a payer quotes on a transfer for the invoice ``number``."""
    if reference_format == "rf":
        return creditor_reference(number)
    return number
