"""Demo data: two companies, their staff, ~10 customers and 50 invoices in every status and in
USD, EUR, JPY and KWD; and a German company, ``beispiel``, with complete seller data and bank
details, whose invoices show bank transfers with the EPC QR code and offer e-invoices.
Idempotent: a second run changes nothing and prints the same logins."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from invoices import services
from invoices.models import Company, Customer, Invoice, InvoiceStatus, Membership
from invoices.models.company import Role
from invoices.models.credit_note import CreditNote, CreditNoteStatus
from invoices.money import amount_step
from payments.services import ReceivedPayment, payment_record

DEMO_PASSWORD = "demo-password-2026"
COMPANIES = [
    {"slug": "acme", "name": "Acme Studio", "currency": "usd", "plan": "pro", "color": "#0f766e"},
    {
        "slug": "globex",
        "name": "Globex GmbH",
        "currency": "eur",
        "plan": "free",
        "color": "#7c2d12",
    },
]
STAFF = [
    ("acme-owner", "acme", Role.OWNER),
    ("acme-viewer", "acme", Role.VIEWER),
    ("globex-owner", "globex", Role.OWNER),
    ("beispiel-owner", "beispiel", Role.OWNER),
]
CUSTOMERS = [
    ("Ada Lovelace", "ada@example.com", "en"),
    ("Jürgen Müller", "juergen@example.de", "de"),
    ("Amélie Dubois", "amelie@example.fr", "fr"),
    ("Lucía García", "lucia@example.es", "es"),
    ("Νίκος Παπαδόπουλος", "nikos@example.gr", ""),
    ("Анна Иванова", "anna@example.ru", ""),
    ("Grace Hopper", "grace@example.com", "en"),
    ("Sakura Tanaka", "sakura@example.jp", ""),
    ("Omar Al-Sabah", "omar@example.kw", ""),
    ("Linus Berg", "linus@example.se", "en"),
]
CURRENCIES = ["usd", "eur", "jpy", "kwd"]
# Unit prices per currency in minor units: similar real value across currencies.
UNIT_PRICES = {
    "usd": [2500, 12000, 4999],
    "eur": [2200, 9900, 4500],
    "jpy": [3000, 15000, 800],
    "kwd": [7500, 36000, 1250],
}
ITEMS = [
    "Design consultation",
    "Website maintenance",
    "Hosting (monthly)",
    "Logo package",
    "Copywriting",
    "Support hours",
]


# The German demo company: everything a bank transfer and an EU e-invoice need. The VAT ids
# and the IBAN pass their check digits; none of them belongs to anyone.
BEISPIEL: dict[str, Any] = {
    "slug": "beispiel",
    "name": "Beispiel Software GmbH",
    "currency": "eur",
    "plan": "pro",
    "brand_color": "#1e3a8a",
    "email": "rechnung@beispiel.test",
    "phone": "+49 30 12345670",
    "language": "de",
    "time_zone": "Europe/Berlin",
    "street": "Friedrichstraße 123",
    "postcode": "10117",
    "city": "Berlin",
    "country_code": "DE",
    "vat_id": "DE136695976",
    "electronic_address": "rechnung@beispiel.test",
    "electronic_address_scheme": "EM",
    "bank_account_holder": "Beispiel Software GmbH",
    "iban": "DE02120300000000202051",
    "bic": "BYLADEM1001",
    "invoice_prefix": "BSP",
    "payment_terms_days": 14,
    "einvoice_formats": ["facturx", "xrechnung", "ubl"],
}
BEISPIEL_CUSTOMERS = [
    # name, email, street, postcode, city, country, VAT id, buyer reference, endpoint, scheme
    (
        "Musterhandel AG",
        "einkauf@musterhandel.test",
        "Marktplatz 5",
        "80331",
        "München",
        "DE",
        "DE100000008",
        "PO-2026-117",
        "einkauf@musterhandel.test",
        "EM",
    ),
    (
        "Stadtverwaltung Musterstadt",
        "rechnungseingang@musterstadt.test",
        "Rathausplatz 1",
        "50667",
        "Köln",
        "DE",
        "DE100000016",
        "05315000-12345-67",
        "05315000-12345-67",
        "0204",
    ),
    (
        "Alpen Consulting GmbH",
        "office@alpen-consulting.test",
        "Ringstraße 10",
        "1010",
        "Wien",
        "AT",
        "ATU13585627",
        "AC-4711",
        "office@alpen-consulting.test",
        "EM",
    ),
]


def _demo_payment(invoice: Invoice, amount: int) -> None:
    """Record a demo payment as if Stripe had reported it (a fixed fake intent id keeps it
    idempotent), so payments, the API and the admin show real rows."""
    payment_record(
        company=invoice.company,
        received=ReceivedPayment(
            intent_id=f"pi_demo_{invoice.public_id}",
            amount=amount,
            currency=invoice.currency,
            invoice_public_id=invoice.public_id,
        ),
        source="demo",
    )


class Command(BaseCommand):
    help = "Create the demo companies, staff users, customers and invoices (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            admin_user = self._ensure_user("admin", superuser=True)
            for spec in COMPANIES:
                company = Company.objects.filter(slug=spec["slug"]).first()
                if company is None:
                    company = services.company_create(
                        slug=spec["slug"],
                        name=spec["name"],
                        currency=spec["currency"],
                        plan=spec["plan"],
                        brand_color=spec["color"],
                        email=f"billing@{spec['slug']}.test",
                        address="1 Demo Street\n10115 Berlin"
                        if spec["slug"] == "globex"
                        else "500 Market St\nSan Francisco, CA",
                        language="de" if spec["slug"] == "globex" else "en",
                    )
                    self._seed_company(company, random.Random(spec["slug"]))
            if not Company.objects.filter(slug=BEISPIEL["slug"]).exists():
                self._seed_beispiel()
            for username, slug, role in STAFF:
                user = self._ensure_user(username)
                Membership.objects.get_or_create(
                    user=user, company=Company.objects.get(slug=slug), defaults={"role": role}
                )
        self.stdout.write("Admin logins (http://127.0.0.1:8000/admin/):")
        self.stdout.write(f"  {admin_user.get_username()} / {DEMO_PASSWORD}  (superuser)")
        for username, slug, role in STAFF:
            self.stdout.write(f"  {username} / {DEMO_PASSWORD}  ({role} of {slug})")
        self.stdout.write("Demo share links:")
        for invoice in Invoice.objects.filter(company__slug="acme", status=InvoiceStatus.OPEN)[:3]:
            link = services.share_link_create(invoice=invoice)
            self.stdout.write(f"  invoice {invoice.number}: {services.share_link_url(link)}")
        beispiel = (
            Invoice.objects.filter(company__slug="beispiel", status=InvoiceStatus.OPEN)
            .order_by("sequence")
            .first()
        )
        if beispiel is not None:
            link = services.share_link_create(invoice=beispiel)
            self.stdout.write(
                f"  invoice {beispiel.number} (beispiel: bank transfer, QR code, e-invoices): "
                f"{services.share_link_url(link)}"
            )
        customer = Customer.objects.filter(company__slug="acme").order_by("pk").first()
        if customer is not None:
            link = services.portal_link_create(customer=customer)
            self.stdout.write(f"  portal of {customer.name}: {services.share_link_url(link)}")
            self._ensure_embed(Company.objects.get(slug="acme"), customer)

    def _ensure_embed(self, company: Company, customer: Customer) -> None:
        """Acme's embed in test mode (hash optional, a banner says so), framable from the demo."""
        from portal.embed.models import EmbedMode, EmbedSettings
        from portal.embed.services import embed_secret_ensure, embed_settings_save

        if not EmbedSettings.objects.filter(company=company).exists():
            embed_settings_save(
                settings=EmbedSettings(
                    company=company,
                    mode=EmbedMode.TEST,
                    allowed_origins=["http://127.0.0.1:8000", "http://localhost:8000"],
                )
            )
            embed_secret_ensure(company=company)
        self.stdout.write(
            f"Embed (test mode): {settings.PUBLIC_BASE_URL}/embed/{company.public_key}"
            f"?customer={quote(customer.email)}  (snippet: admin > Embed settings; docs/embed.md)"
        )

    def _ensure_user(self, username: str, *, superuser: bool = False) -> Any:
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username=username,
                password=DEMO_PASSWORD,
                email=f"{username}@example.test",
                is_staff=True,
                is_superuser=superuser,
            )
        return user

    def _seed_beispiel(self) -> None:
        """The German company: open, partly paid and paid invoices at 19 % and 7 %, a
        reverse-charge invoice to Austria, and a credit note on an invoice."""
        spec = dict(BEISPIEL)
        company = services.company_create(
            slug=spec.pop("slug"),
            name=spec.pop("name"),
            currency=spec.pop("currency"),
            plan=spec.pop("plan"),
        )
        services.company_update(company=company, changes=spec)
        customers = [
            services.customer_create(
                company=company,
                name=name,
                email=email,
                external_id=f"beispiel-{index:03d}",
                preferred_language="de",
                address_line1=street,
                postal_code=postcode,
                city=city,
                country=country,
                tax_id=vat_id,
                buyer_reference=reference,
                electronic_address=endpoint,
                electronic_address_scheme=scheme,
            )
            for index, (
                name,
                email,
                street,
                postcode,
                city,
                country,
                vat_id,
                reference,
                endpoint,
                scheme,
            ) in enumerate(BEISPIEL_CUSTOMERS)
        ]
        today = timezone.localdate()

        def line(
            text: str,
            quantity: str,
            unit_amount: int,
            rate: str,
            unit: str = "C62",
            category: str = "",
            reason: str = "",
        ) -> services.LineInput:
            return services.LineInput(
                description=text,
                quantity=Decimal(quantity),
                unit_amount=unit_amount,
                tax_rate=Decimal(rate),
                unit_code=unit,
                vat_category=category,
                vat_exemption_reason=reason,
            )

        plans = [
            # customer, days ago, lines, then: "open", "partly_paid" or "paid"
            (
                0,
                3,
                [
                    line("Softwareentwicklung", "12", 9500, "19", "HUR"),
                    line("Fachbuch Clean Code", "2", 3990, "7"),
                ],
                "open",
            ),
            (1, 10, [line("Wartungsvertrag (Monat)", "1", 49000, "19", "MON")], "open"),
            (
                2,
                20,
                [
                    line(
                        "Beratung vor Ort",
                        "2",
                        120000,
                        "0",
                        "DAY",
                        "AE",
                        "Steuerschuldnerschaft des Leistungsempfängers",
                    )
                ],
                "open",
            ),
            (0, 25, [line("Schulung", "1", 150000, "19", "DAY")], "partly_paid"),
            (1, 40, [line("Lizenz (Jahr)", "1", 240000, "19", "ANN")], "paid"),
        ]
        made = []
        for customer_index, days_ago, lines, outcome in plans:
            issue = today - dt.timedelta(days=days_ago)
            invoice = services.invoice_create(
                company=company,
                customer=customers[customer_index],
                currency="eur",
                issue_date=issue,
                due_date=issue + dt.timedelta(days=14),
                lines=lines,
                notes="Vielen Dank für Ihren Auftrag.",
            )
            services.invoice_finalize(invoice=invoice)
            if outcome == "paid":
                _demo_payment(invoice, invoice.total)
            elif outcome == "partly_paid":
                _demo_payment(invoice, invoice.total // 2)
            made.append(invoice)
        services.credit_note_create(
            company=company,
            customer=customers[0],
            currency="eur",
            amount=5950,
            reason="Gutschrift: Rabatt auf die Entwicklungsstunden",
            invoice=made[0],
        )

    def _seed_company(self, company: Company, rng: random.Random) -> None:
        today = timezone.localdate()
        customers = [
            services.customer_create(
                company=company,
                name=name,
                email=email.replace("@", f"+{company.slug}@"),
                external_id=f"{company.slug}-{index:03d}",
                preferred_language=language,
                address_line1=f"{10 + index} Example Road",
                city="Springfield",
                country="US",
            )
            for index, (name, email, language) in enumerate(CUSTOMERS)
        ]
        statuses = ["draft", "open", "open", "open", "paid", "void", "uncollectible"]
        for index in range(25):
            currency = CURRENCIES[index % len(CURRENCIES)]
            customer = customers[index % len(customers)]
            issue = today - dt.timedelta(days=rng.randint(0, 90))
            lines = [
                services.LineInput(
                    description=rng.choice(ITEMS),
                    quantity=Decimal(rng.choice(["1", "2", "3", "1.5", "10"])),
                    unit_amount=rng.choice(UNIT_PRICES[currency]),
                    tax_rate=Decimal(rng.choice(["0", "7", "19", "20"])),
                )
                for _ in range(rng.randint(1, 5))
            ]
            invoice = services.invoice_create(
                company=company,
                customer=customer,
                currency=currency,
                issue_date=issue,
                due_date=issue + dt.timedelta(days=30),
                lines=lines,
                notes="Thank you for your business." if index % 3 == 0 else "",
                allow_partial_payments=index % 2 == 0,
            )
            status = statuses[index % len(statuses)]
            if status == "draft":
                continue
            services.invoice_finalize(invoice=invoice)
            if status == "paid":
                # A real Payment row through the payments service, which marks it paid.
                _demo_payment(invoice, invoice.total)
            elif status in ("void", "uncollectible"):
                services.invoice_transition(invoice=invoice, to_status=status)
            elif index % 4 == 1:
                # Partly paid: about a third of the total already received.
                step = amount_step(invoice.currency)
                _demo_payment(invoice, invoice.total // 3 // step * step)
        CreditNote.objects.create(
            company=company,
            customer=customers[0],
            number=f"CN-{company.slug.upper()}-1",
            currency=company.default_currency,
            amount=1500,
            status=CreditNoteStatus.ISSUED,
            issued_at=timezone.now(),
            reason="Goodwill credit",
        )
