"""The billing details a customer may change, how each is checked, and the country list.

The company chooses groups (``invoices.models.company.PortalEditableField``); each group is one
or more of the customer's fields, posted under the same names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from babel import Locale
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from core.i18n import supported_languages

GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "address": ("address_line1", "address_line2", "postal_code", "city", "region", "country"),
    "billing_email": ("email",),
    "phone": ("phone",),
    "tax_id": ("tax_id",),
    "buyer_reference": ("buyer_reference",),
    "language": ("preferred_language",),
}
FIELD_GROUP = {field: group for group, fields in GROUP_FIELDS.items() for field in fields}
# Other names a form may post a field under.
POSTED_ALIASES = {"billing_email": "email", "language": "preferred_language"}

MAX_LENGTHS = {
    "name": 200,
    "address_line1": 200,
    "address_line2": 200,
    "postal_code": 20,
    "city": 100,
    "region": 100,
    "email": 254,
    "phone": 40,
    "tax_id": 64,
    "buyer_reference": 200,
}

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]+$")
_TAX_ID_SEPARATORS = re.compile(r"[\s.\-/]")
_GENERIC_TAX_ID_RE = re.compile(r"^[A-Z0-9]{4,30}$")
# Babel names these regions, but no address is in them.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


class FieldInvalid(ValueError):
    pass


def clean_text(value: str) -> str:
    return _CONTROL_RE.sub("", value or "").strip()


@lru_cache(maxsize=8)
def countries(locale: str) -> tuple[tuple[str, str], ...]:
    """(ISO 3166 alpha-2 code, name in ``locale``), sorted by name."""
    names = Locale.parse(locale).territories
    found = [
        (code, name)
        for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    ]
    return tuple(sorted(found, key=lambda item: item[1].casefold()))


def clean_country(value: str) -> str:
    code = clean_text(value).upper()
    if code and code not in dict(countries("en")):
        raise FieldInvalid(_("Choose a country from the list."))
    return code


def clean_email(value: str) -> str:
    text = clean_text(value)
    if not text:
        raise FieldInvalid(_("Enter the email address invoices should go to."))
    try:
        validate_email(text)
    except ValidationError:
        raise FieldInvalid(_("Enter a valid email address.")) from None
    return text


def clean_phone(value: str) -> str:
    text = " ".join(clean_text(value).split())
    digits = sum(ch.isdigit() for ch in text)
    if text and (not _PHONE_RE.match(text) or not 5 <= digits <= 15):
        raise FieldInvalid(_("Enter a phone number of digits, like +49 30 1234567."))
    return text


def clean_language(value: str) -> str:
    code = clean_text(value).lower()
    if code and code not in supported_languages():
        raise FieldInvalid(_("Choose a language from the list."))
    return code


def clean_tax_id(value: str, *, country: str) -> str:
    """The tax id in its compact form, checked by format and check digit (python-stdnum): an
    EU VAT number by its own prefix, else by the customer's country's VAT (or tax) number,
    else a plain format check where no rule is known."""
    compact = _TAX_ID_SEPARATORS.sub("", clean_text(value)).upper()
    if not compact:
        return ""
    prefix = compact[:2]
    try:
        if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
            return str(eu_vat.validate(compact))
        if prefix.isalpha() and (module := _national_module(prefix)) is not None:
            checked = str(module.validate(compact))
            # Keep the country prefix the customer wrote (GB980780684, not 980780684).
            return checked if checked.startswith(prefix) else prefix + checked
        if country.lower() in eu_vat.MEMBER_STATES:
            prefixed = ("EL" if country == "GR" else country) + compact
            return str(eu_vat.validate(prefixed))
        if country and (module := _national_module(country)) is not None:
            return str(module.validate(compact))
    except StdnumError:
        raise FieldInvalid(
            _("This tax id is not valid: check its format and check digit.")
        ) from None
    if not _GENERIC_TAX_ID_RE.match(compact) or not any(ch.isdigit() for ch in compact):
        raise FieldInvalid(_("Enter a tax id of letters and digits, like DE136695976."))
    return compact


def _national_module(country: str) -> Any:
    code = country.lower()
    if len(code) != 2 or not code.isalpha():
        return None
    return get_cc_module(code, "vat") or get_cc_module(code, "tin")
