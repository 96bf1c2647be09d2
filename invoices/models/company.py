from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.images import validate_image_dimensions
from invoices.bank_details import compact, validate_bic, validate_iban, validate_vat_id
from invoices.customization import validation as portal_validation
from invoices.ids import new_public_id

LANGUAGE_CHOICES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]


def new_company_public_key() -> str:
    return new_public_id("pub")


class Plan(models.TextChoices):
    FREE = "free", _("Free")
    PRO = "pro", _("Pro")


class PortalEditableField(models.TextChoices):
    """The groups of billing details a company may let its customers change in the portal."""

    NAME = "name", _("Name")
    ADDRESS = "address", _("Billing address")
    BILLING_EMAIL = "billing_email", _("Billing email")
    PHONE = "phone", _("Phone")
    TAX_ID = "tax_id", _("Tax id")
    BUYER_REFERENCE = "buyer_reference", _("Buyer reference")
    LANGUAGE = "language", _("Language")


# Other spellings the API accepts for a group (the customer's own field names).
PORTAL_EDITABLE_ALIASES = {"email": "billing_email", "preferred_language": "language"}


def portal_editable_fields_normalize(value: object) -> list[str]:
    """The groups in canonical names and order, or ValidationError for anything else."""
    if not isinstance(value, list | tuple):
        raise ValidationError(_("Choose from the fields customers may change."))
    names = set()
    for item in value:
        name = PORTAL_EDITABLE_ALIASES.get(item, item) if isinstance(item, str) else None
        if name not in PortalEditableField.values:
            raise ValidationError(
                _("%(value)s is not a field customers may change.") % {"value": str(item)[:40]}
            )
        names.add(name)
    return [name for name in PortalEditableField.values if name in names]


def validate_portal_editable_fields(value: object) -> None:
    portal_editable_fields_normalize(value)


class PaymentReferenceFormat(models.TextChoices):
    INVOICE_NUMBER = "invoice_number", _("The invoice number")
    RF = "rf", _("Structured creditor reference (ISO 11649, RF…)")


# The e-invoice formats a company can offer (invoices.einvoice builds them).
EINVOICE_FORMAT_CHOICES = [
    ("facturx", "Factur-X / ZUGFeRD (PDF/A-3 with XML)"),
    ("xrechnung", "XRechnung 3.0 (CII XML)"),
    ("ubl", "Peppol BIS Billing 3.0 (UBL XML)"),
]
EINVOICE_FORMATS = tuple(code for code, _label in EINVOICE_FORMAT_CHOICES)


def validate_einvoice_formats(value: object) -> None:
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or any(item not in EINVOICE_FORMATS for item in value):
        raise ValidationError(
            _("Choose e-invoice formats among: %(formats)s.")
            % {"formats": ", ".join(EINVOICE_FORMATS)}
        )


COUNTRY_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z]{2}$", _("Use the two-letter country code (ISO 3166), like DE.")
)
# Electronic Address Scheme codes (CEF EAS list): four digits (0088 GLN, 0204 Leitweg-ID,
# 9930 German VAT…) or EM (an email address).
EAS_VALIDATOR = RegexValidator(
    r"^([0-9]{4}|EM)$", _("Use an Electronic Address Scheme code, like 0088, 9930 or EM.")
)


class CommentWriteMode(models.TextChoices):
    LINK = "link", _("Anyone with the link (name and email)")
    EMAIL_CODE = "email_code", _("One-time code emailed to the customer")
    CUSTOMER_SESSION = "customer_session", _("Verified customer session")


class Company(models.Model):
    """The tenant: a business that issues invoices."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Names the company in embed snippets and webhook URLs; safe to publish.
    public_key = models.CharField(max_length=40, unique=True, default=new_company_public_key)
    logo = models.ImageField(upload_to="logos/", blank=True, validators=[validate_image_dimensions])
    brand_color = models.CharField(
        max_length=7,
        default="#1d4ed8",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1d4ed8."))],
    )
    default_currency = models.CharField(max_length=3, default="usd")
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, default="en")
    time_zone = models.CharField(max_length=64, default="UTC")
    plan = models.CharField(max_length=8, choices=Plan.choices, default=Plan.FREE)
    email = models.EmailField(blank=True)
    # The seller contact's telephone (XRechnung requires one on every e-invoice).
    phone = models.CharField(max_length=40, blank=True)
    address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=64, blank=True)

    # The seller's structured postal address and VAT id, as e-invoices need them (EN 16931
    # BT-35..BT-40, BT-31). ``address`` above stays the free text the documents show when
    # these are empty.
    street = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country_code = models.CharField(
        max_length=2, blank=True, validators=[COUNTRY_CODE_VALIDATOR], help_text="ISO 3166 alpha-2"
    )
    vat_id = models.CharField(
        max_length=32,
        blank=True,
        validators=[validate_vat_id],
        help_text=_("With its country prefix, like DE123456789."),
    )
    # Where e-invoices reach the company (Peppol endpoint, BT-34) and the scheme of that id.
    electronic_address = models.CharField(max_length=200, blank=True)
    electronic_address_scheme = models.CharField(
        max_length=4, blank=True, validators=[EAS_VALIDATOR]
    )

    # Bank transfers: shown on the invoice page and the PDF (with an EPC QR code for EUR).
    bank_account_holder = models.CharField(max_length=70, blank=True)
    iban = models.CharField(max_length=42, blank=True, validators=[validate_iban])
    bic = models.CharField(max_length=14, blank=True, validators=[validate_bic])
    payment_reference_format = models.CharField(
        max_length=16,
        choices=PaymentReferenceFormat.choices,
        default=PaymentReferenceFormat.INVOICE_NUMBER,
        help_text=_("What customers quote on a bank transfer."),
    )
    # The e-invoice formats offered to customers (a list among EINVOICE_FORMATS).
    einvoice_formats = models.JSONField(
        default=list, blank=True, validators=[validate_einvoice_formats]
    )
    # The invoice PDF customers download is the Factur-X one (PDF/A-3b with its XML) whenever
    # the data makes a valid e-invoice.
    facturx_as_pdf = models.BooleanField(
        default=False,
        verbose_name=_("Factur-X as the standard PDF"),
        help_text=_("Invoice PDFs carry their Factur-X XML (PDF/A-3b) when the data allows."),
    )

    # Invoice numbering: "<prefix>-<sequence>"; the counter only moves inside a locked
    # transaction, so numbers are gap-free and unique (see services.invoice_number_allocate).
    invoice_prefix = models.CharField(max_length=12, default="INV")
    next_invoice_sequence = models.PositiveIntegerField(default=1)
    # A new invoice is due this many days after its issue date unless staff choose otherwise.
    payment_terms_days = models.PositiveSmallIntegerField(
        default=30, help_text=_("A new invoice is due this many days after it is issued.")
    )

    # Portal settings.
    comment_write_mode = models.CharField(
        max_length=20, choices=CommentWriteMode.choices, default=CommentWriteMode.LINK
    )
    comment_require_totp = models.BooleanField(default=False)
    # Which billing details customers may change themselves (/portal/<token>/billing-details),
    # as PortalEditableField values; empty: none, the page only shows them.
    portal_editable_fields = models.JSONField(
        default=list, blank=True, validators=[validate_portal_editable_fields]
    )
    # Single sign-on: the company's own sign-in page. The portal entry (/c/<slug>/) sends
    # visitors there (with ``return_to``, a page name); the company signs them in and sends them
    # back through a magic link (POST /api/v1/customers/<id>/sign-in-link).
    portal_sign_in_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["https", "http"])],
        help_text=_(
            "Your own sign-in page. When set, customers who open the portal entry are sent "
            "there instead of signing in by email."
        ),
    )
    reminder_days_before_due = models.PositiveSmallIntegerField(
        default=3, help_text=_("Send a 'due soon' reminder this many days before the due date.")
    )
    reminder_days_after_due = models.PositiveSmallIntegerField(
        default=7, help_text=_("Send an 'overdue' reminder this many days after the due date.")
    )

    # Customers may pay ahead from their portal (the money becomes their credit once paid);
    # bounds in the paid currency's minor units, null for none beyond Stripe's minimum.
    advance_payments = models.BooleanField(default=False)
    advance_payment_minimum = models.BigIntegerField(null=True, blank=True)
    advance_payment_maximum = models.BigIntegerField(null=True, blank=True)
    # The customer's credit is applied to an invoice as soon as it is finalized.
    credit_auto_apply = models.BooleanField(default=False)
    # The company's own portal (invoices.customization): its host name, look, script, the
    # sites those may load from, and analytics. Empty: the shared origin, the default look.
    portal_domain = models.CharField(
        _("portal domain"),
        max_length=253,
        blank=True,
        validators=[portal_validation.validate_portal_domain],
        help_text=_(
            "A host name of your own, like billing.example.com, with a CNAME DNS record "
            "pointing at the portal. Customers then open your links there."
        ),
    )
    portal_custom_css = models.TextField(
        _("custom CSS"),
        blank=True,
        validators=[portal_validation.validate_custom_css],
        help_text=_("Added after the portal's own stylesheet on every customer page."),
    )
    portal_custom_js = models.TextField(
        _("custom JavaScript"),
        blank=True,
        validators=[portal_validation.validate_custom_js],
        help_text=_("Runs only on your own portal domain (set one first), never elsewhere."),
    )
    portal_csp_trusted_sites = models.JSONField(
        _("CSP trusted sites"),
        default=list,
        blank=True,
        validators=[portal_validation.validate_trusted_sites],
        help_text=_(
            'Sites your CSS and JavaScript may load from: [{"origin": "https://cdn.example.com", '
            '"kinds": ["img", "script", "style", "connect", "frame", "font"]}].'
        ),
    )
    portal_analytics_id = models.CharField(
        _("analytics id"),
        max_length=253,
        blank=True,
        validators=[portal_validation.validate_analytics_id],
        help_text=_(
            "A Google Analytics 4 measurement id (G-...) or the domain your Plausible account "
            "counts."
        ),
    )

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["portal_domain"],
                condition=~Q(portal_domain=""),
                name="company_unique_portal_domain",
                violation_error_message=_("Another company uses this portal domain."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Normalizes the bank, e-invoice and portal settings, and the checks that need two
        of them."""
        # Stored compact and upper case; shown grouped (invoices.bank_details.iban_display).
        self.iban = compact(self.iban)
        self.bic = compact(self.bic)
        self.vat_id = compact(self.vat_id)
        self.country_code = self.country_code.strip().upper()
        if isinstance(self.einvoice_formats, list):  # one of each, in the canonical order
            self.einvoice_formats = [f for f in EINVOICE_FORMATS if f in self.einvoice_formats]

        self.portal_domain = portal_validation.normalize_domain(self.portal_domain)
        self.portal_analytics_id = portal_validation.normalize_analytics_id(
            self.portal_analytics_id
        )
        try:
            self.portal_csp_trusted_sites = portal_validation.normalize_trusted_sites(
                self.portal_csp_trusted_sites
            )
        except ValidationError:
            return  # the field's own validator reports it
        if self.portal_custom_js and not self.portal_domain:
            raise ValidationError(
                {
                    "portal_custom_js": _(
                        "Custom JavaScript runs only on your own portal domain: set the portal "
                        "domain first (on the shared origin it would run beside other "
                        "companies' pages)."
                    )
                }
            )
        if self.portal_custom_css:
            try:
                portal_validation.validate_css_imports(
                    self.portal_custom_css, self.portal_csp_trusted_sites
                )
            except ValidationError as exc:
                raise ValidationError({"portal_custom_css": exc.messages}) from None

    @property
    def has_bank_details(self) -> bool:
        return bool(self.iban and self.bank_account_holder)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Billing manager")
    VIEWER = "viewer", _("Read only")


# "Manage invoices" (generate or revoke links, finalize, void) is separate from read access.
ROLES_THAT_MANAGE_INVOICES = frozenset({Role.OWNER, Role.MANAGER})


class Membership(models.Model):
    """A staff user's place in a company; a user may belong to several companies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company} ({self.role})"


class StaffSignInSettings(models.Model):
    """How the company's staff sign in to the admin: the owners' second factor (TOTP)."""

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="sign_in_settings"
    )
    # Owners of this company must confirm each admin sign-in with an authenticator code.
    owners_require_otp = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "staff sign-in settings"
        verbose_name_plural = "staff sign-in settings"

    def __str__(self) -> str:
        return f"Sign-in for {self.company}"


class StaffInvitation(models.Model):
    """An owner's invitation to an email address with no account yet: the emailed link lets the
    person create their staff account and joins them with the role chosen. Only a SHA-256 of
    the link's token is kept; the link works once, for ``INVITATION_VALID_FOR``."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} @ {self.company} ({self.role})"
