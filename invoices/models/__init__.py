from .api_key import ApiKey
from .audit import AuditEvent
from .company import Company, Membership, StaffInvitation, StaffSignInSettings
from .credit_note import CreditApplication, CreditNote
from .customer import Customer
from .invoice import Invoice, InvoiceStatus, InvoiceStatusChange, LineItem, VatCategory
from .share_link import ShareLink, ShareLinkKind

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Company",
    "CreditApplication",
    "CreditNote",
    "Customer",
    "Invoice",
    "InvoiceStatus",
    "InvoiceStatusChange",
    "LineItem",
    "Membership",
    "ShareLink",
    "ShareLinkKind",
    "StaffInvitation",
    "StaffSignInSettings",
    "VatCategory",
]
