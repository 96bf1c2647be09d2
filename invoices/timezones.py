"""Dates as a company reads them: in its own time zone (Company.time_zone), where a day starts
and ends for its statements, payments and credit notes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from invoices.models import Company


def company_zone(company: Company) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(company.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def company_today(company: Company) -> dt.date:
    return timezone.localdate(timezone.now(), company_zone(company))


def company_date(company: Company, moment: dt.datetime) -> dt.date:
    """The day ``moment`` falls on in the company's time zone."""
    return timezone.localdate(moment, company_zone(company))


def company_day_start(company: Company, day: dt.date) -> dt.datetime:
    """Midnight starting ``day`` in the company's time zone, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=company_zone(company))
