"""Invoices issued in the company's own Stripe account, kept here as Stripe keeps them.

- ``mapping``: Stripe's JSON (customer, invoice, line, credit note) into our fields.
- ``upsert``: one write per kind, idempotent, under row locks; a copy read from Stripe earlier
  than the one we hold never overwrites it.
- ``backfill``: the import (``manage.py stripe_sync SLUG [--since]`` and the admin action),
  page by page, checkpointed so an interrupted run resumes.
- ``live``: the webhook handlers (re-fetch, then upsert) and the periodic reconciliation.
- ``pay``: paying a Stripe invoice the Stripe way (a PaymentIntent attached to it, or the
  hosted invoice page).
"""
