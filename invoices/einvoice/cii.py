"""UN/CEFACT Cross Industry Invoice (CII D16B) with drafthorse: the XML of Factur-X at its
EN 16931 profile and of XRechnung 3.0 (CII syntax). Both are EN 16931 invoices; they differ in
the specification identifier (BT-24), and XRechnung also names the business process (BT-23)."""

from __future__ import annotations

from decimal import Decimal

from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem

from invoices.einvoice.data import EInvoiceData, PartyData

FACTURX_EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG_3 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

# UNTDID 4461: 58 SEPA credit transfer, 30 credit transfer (non-SEPA currency), 1 not defined.
SEPA_CREDIT_TRANSFER = "58"


def _party(target: object, party: PartyData) -> None:
    target.name = party.name  # type: ignore[attr-defined]
    address = target.address  # type: ignore[attr-defined]
    address.line_one = party.street
    if party.line2:
        address.line_two = party.line2
    address.postcode = party.postcode
    address.city_name = party.city
    address.country_id = party.country
    if party.electronic_address:
        target.electronic_address.uri_ID = (party.electronic_scheme, party.electronic_address)  # type: ignore[attr-defined]
    if party.vat_id:
        target.tax_registrations.add(TaxRegistration(id=("VA", party.vat_id)))  # type: ignore[attr-defined]


def cii_xml(data: EInvoiceData, *, xrechnung: bool) -> bytes:
    """The CII XML of ``data``, checked by drafthorse against the Factur-X EN 16931 XSD."""
    doc = Document()
    doc.context.guideline_parameter.id = XRECHNUNG_3 if xrechnung else FACTURX_EN16931
    if xrechnung:
        doc.context.business_parameter.id = PEPPOL_BILLING_PROCESS
    doc.header.id = data.number
    doc.header.type_code = data.type_code
    doc.header.issue_date_time = data.issue_date
    if data.note:
        note = IncludedNote()
        note.content = data.note
        doc.header.notes.add(note)

    agreement = doc.trade.agreement
    if data.buyer_reference:
        agreement.buyer_reference = data.buyer_reference
    _party(agreement.seller, data.seller)
    if xrechnung or data.seller.phone:
        contact = agreement.seller.contact
        contact.person_name = data.seller.name
        if data.seller.phone:
            contact.telephone.number = data.seller.phone
        if data.seller.email:
            contact.email.address = data.seller.email
    _party(agreement.buyer, data.buyer)

    settlement = doc.trade.settlement
    settlement.currency_code = data.currency
    if data.payment is not None:
        settlement.payment_reference = data.payment.reference
        means = PaymentMeans()
        means.type_code = SEPA_CREDIT_TRANSFER if data.currency == "EUR" else "30"
        means.payee_account.iban = data.payment.iban
        if data.payment.holder:
            means.payee_account.account_name = data.payment.holder
        if data.payment.bic:
            means.payee_institution.bic = data.payment.bic
        settlement.payment_means.add(means)
    elif xrechnung:
        means = PaymentMeans()
        means.type_code = "1"  # instrument not defined: XRechnung requires the group (BR-DE-1)
        settlement.payment_means.add(means)
    if data.due_date is not None and data.due_payable > 0:
        terms = PaymentTerms()
        terms.due = data.due_date
        settlement.terms.add(terms)
    if data.preceding_number:
        settlement.invoice_referenced_document.issuer_assigned_id = data.preceding_number
        if data.preceding_date is not None:
            settlement.invoice_referenced_document.issue_date_time = data.preceding_date

    for group in data.taxes:
        tax = ApplicableTradeTax()
        tax.calculated_amount = group.tax
        tax.type_code = "VAT"
        if group.exemption_reason:
            tax.exemption_reason = group.exemption_reason
        tax.basis_amount = group.basis
        tax.category_code = group.category
        if group.exemption_code:
            tax.exemption_reason_code = group.exemption_code
        tax.rate_applicable_percent = group.rate
        settlement.trade_tax.add(tax)

    for line in data.lines:
        item = LineItem()
        item.document.line_id = line.line_id
        item.product.name = line.name
        item.agreement.net.amount = line.unit_price
        item.delivery.billed_quantity = (line.quantity, line.unit_code)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = line.category
        item.settlement.trade_tax.rate_applicable_percent = line.rate
        item.settlement.monetary_summation.total_amount = line.net
        doc.trade.items.add(item)

    totals = settlement.monetary_summation
    totals.line_total = data.line_total
    totals.charge_total = Decimal(0)
    totals.allowance_total = Decimal(0)
    totals.tax_basis_total = (data.line_total, None)
    totals.tax_total = (data.tax_total, data.currency)
    totals.grand_total = (data.grand_total, None)
    totals.prepaid_total = data.prepaid
    totals.due_amount = data.due_payable
    xml: bytes = doc.serialize(schema="FACTUR-X_EN16931")
    return xml
