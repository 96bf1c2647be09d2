"""The admin app, with our site as the default one (``admin.site``): every ``admin.register``
in the project lands on backoffice.sites.StaffAdminSite. Kept apart from sites.py, which
imports models: this module is imported while settings load."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "backoffice.sites.StaffAdminSite"
