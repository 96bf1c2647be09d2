"""Peppol BIS Billing 3.0 in OASIS UBL 2.1: an Invoice (380) or a CreditNote (381).

Built with lxml in the schema's element order. Endpoint ids and their schemes come from the
parties' own data (their electronic address and its EAS scheme, else their email with "EM"):
nothing about any party is assumed here."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from invoices.einvoice.data import EInvoiceData, PartyData

PEPPOL_BIS_3 = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


class _Builder:
    def __init__(self, currency: str) -> None:
        self.currency = currency

    def cbc(self, parent: etree._Element, name: str, text: object, **attrs: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{CBC}}}{name}", attrs)
        element.text = str(text)
        return element

    def cac(self, parent: etree._Element, name: str) -> etree._Element:
        return etree.SubElement(parent, f"{{{CAC}}}{name}")

    def amount(self, parent: etree._Element, name: str, value: Decimal) -> None:
        self.cbc(parent, name, value, currencyID=self.currency)

    def party(self, parent: etree._Element, role: str, party: PartyData, *, contact: bool) -> None:
        node = self.cac(self.cac(parent, role), "Party")
        self.cbc(node, "EndpointID", party.electronic_address, schemeID=party.electronic_scheme)
        address = self.cac(node, "PostalAddress")
        self.cbc(address, "StreetName", party.street)
        if party.line2:
            self.cbc(address, "AdditionalStreetName", party.line2)
        self.cbc(address, "CityName", party.city)
        self.cbc(address, "PostalZone", party.postcode)
        self.cbc(self.cac(address, "Country"), "IdentificationCode", party.country)
        if party.vat_id:
            tax_scheme = self.cac(node, "PartyTaxScheme")
            self.cbc(tax_scheme, "CompanyID", party.vat_id)
            self.cbc(self.cac(tax_scheme, "TaxScheme"), "ID", "VAT")
        legal = self.cac(node, "PartyLegalEntity")
        self.cbc(legal, "RegistrationName", party.name)
        if contact and (party.phone or party.email):
            person = self.cac(node, "Contact")
            self.cbc(person, "Name", party.name)
            if party.phone:
                self.cbc(person, "Telephone", party.phone)
            if party.email:
                self.cbc(person, "ElectronicMail", party.email)

    def tax_category(
        self, parent: etree._Element, name: str, category: str, rate: Decimal
    ) -> etree._Element:
        node = self.cac(parent, name)
        self.cbc(node, "ID", category)
        if category != "O":  # "not subject to VAT" carries no rate (BR-O-05)
            self.cbc(node, "Percent", rate)
        return node


def ubl_xml(data: EInvoiceData) -> bytes:
    credit = data.type_code == "381"
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_ns, "cac": CAC, "cbc": CBC},
    )
    b = _Builder(data.currency)
    b.cbc(root, "CustomizationID", PEPPOL_BIS_3)
    b.cbc(root, "ProfileID", PEPPOL_BILLING_PROCESS)
    b.cbc(root, "ID", data.number)
    b.cbc(root, "IssueDate", data.issue_date.isoformat())
    if not credit and data.due_date is not None:
        b.cbc(root, "DueDate", data.due_date.isoformat())
    b.cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", data.type_code)
    if data.note:
        b.cbc(root, "Note", data.note)
    b.cbc(root, "DocumentCurrencyCode", data.currency)
    if data.buyer_reference:
        b.cbc(root, "BuyerReference", data.buyer_reference)
    if data.preceding_number:
        reference = b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference")
        b.cbc(reference, "ID", data.preceding_number)
        if data.preceding_date is not None:
            b.cbc(reference, "IssueDate", data.preceding_date.isoformat())
    b.party(root, "AccountingSupplierParty", data.seller, contact=True)
    b.party(root, "AccountingCustomerParty", data.buyer, contact=False)
    if data.payment is not None:
        means = b.cac(root, "PaymentMeans")
        b.cbc(means, "PaymentMeansCode", "58" if data.currency == "EUR" else "30")
        b.cbc(means, "PaymentID", data.payment.reference)
        account = b.cac(means, "PayeeFinancialAccount")
        b.cbc(account, "ID", data.payment.iban)
        if data.payment.holder:
            b.cbc(account, "Name", data.payment.holder)
        if data.payment.bic:
            b.cbc(b.cac(account, "FinancialInstitutionBranch"), "ID", data.payment.bic)

    tax_total = b.cac(root, "TaxTotal")
    b.amount(tax_total, "TaxAmount", data.tax_total)
    for group in data.taxes:
        subtotal = b.cac(tax_total, "TaxSubtotal")
        b.amount(subtotal, "TaxableAmount", group.basis)
        b.amount(subtotal, "TaxAmount", group.tax)
        category = b.tax_category(subtotal, "TaxCategory", group.category, group.rate)
        if group.exemption_code:
            b.cbc(category, "TaxExemptionReasonCode", group.exemption_code)
        if group.exemption_reason:
            b.cbc(category, "TaxExemptionReason", group.exemption_reason)
        b.cbc(b.cac(category, "TaxScheme"), "ID", "VAT")

    totals = b.cac(root, "LegalMonetaryTotal")
    b.amount(totals, "LineExtensionAmount", data.line_total)
    b.amount(totals, "TaxExclusiveAmount", data.line_total)
    b.amount(totals, "TaxInclusiveAmount", data.grand_total)
    if data.prepaid:
        b.amount(totals, "PrepaidAmount", data.prepaid)
    b.amount(totals, "PayableAmount", data.due_payable)

    for line in data.lines:
        node = b.cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        b.cbc(node, "ID", line.line_id)
        b.cbc(
            node,
            "CreditedQuantity" if credit else "InvoicedQuantity",
            line.quantity,
            unitCode=line.unit_code,
        )
        b.amount(node, "LineExtensionAmount", line.net)
        item = b.cac(node, "Item")
        b.cbc(item, "Name", line.name)
        category = b.tax_category(item, "ClassifiedTaxCategory", line.category, line.rate)
        b.cbc(b.cac(category, "TaxScheme"), "ID", "VAT")
        b.amount(b.cac(node, "Price"), "PriceAmount", line.unit_price)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml
