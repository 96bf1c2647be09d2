# Customer sessions and sign-in links moved to invoices.customer_sessions: copy the rows (their
# selectors, so cookies and links issued before keep working), then drop the old tables.

from django.db import migrations


def copy_rows(apps, schema_editor):
    OldSession = apps.get_model("comments", "CustomerSession")
    OldLink = apps.get_model("comments", "SignInLink")
    Session = apps.get_model("customer_sessions", "CustomerSession")
    Link = apps.get_model("customer_sessions", "SignInLink")
    known = set(Session.objects.values_list("selector", flat=True))
    Session.objects.bulk_create(
        Session(
            company_id=row.company_id,
            customer_id=row.customer_id,
            invoice_id=row.invoice_id,
            selector=row.selector,
            opened_by=row.opened_by,
            created_at=row.created_at,
            last_seen_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )
        for row in OldSession.objects.iterator()
        if row.selector not in known
    )
    known = set(Link.objects.values_list("selector", flat=True))
    Link.objects.bulk_create(
        Link(
            company_id=row.company_id,
            customer_id=row.customer_id,
            invoice_id=row.invoice_id,
            page="invoice",
            source="comments",
            selector=row.selector,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_at=row.used_at,
        )
        for row in OldLink.objects.iterator()
        if row.selector not in known
    )


class Migration(migrations.Migration):

    dependencies = [
        ("comments", "0001_comments_codes_sessions_totp"),
        ("customer_sessions", "0001_sessions_and_sign_in_links"),
    ]

    operations = [
        migrations.RunPython(copy_rows, migrations.RunPython.noop),
        migrations.RemoveField(model_name="signinlink", name="company"),
        migrations.RemoveField(model_name="signinlink", name="customer"),
        migrations.RemoveField(model_name="signinlink", name="invoice"),
        migrations.DeleteModel(name="CustomerSession"),
        migrations.DeleteModel(name="SignInLink"),
    ]
