from django.contrib import admin
from django.urls import include, path

from api.app import urls as api_urls
from backoffice.views import invitation_accept
from portal.urls import customer_pages
from portal_project.health import healthz
from portal_project.landing import landing

urlpatterns = [
    # First: the customer pages answer most requests, and Django tries patterns in order (no
    # other pattern matches their paths).
    *customer_pages,
    path("", landing, name="landing"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    path("healthz", healthz, name="healthz"),
    path("staff/invitation/<str:token>", invitation_accept, name="staff_invitation"),
    path("", include("payments.urls")),
    path("", include("preferences.urls")),
    path("", include("tracking.urls")),
    path("", include("portal.urls")),
    path("", include("portal.embed.urls")),
]

# Customer-facing paths that match no route (a truncated or mangled link) get the same
# "Invoice not found" page as a bad token; other paths get Django's default 404.
handler404 = "portal.views.page_not_found"
