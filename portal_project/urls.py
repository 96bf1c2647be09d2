from django.contrib import admin
from django.urls import include, path

from portal_project.api import api
from portal_project.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("payments.urls")),
    path("", include("preferences.urls")),
    path("", include("tracking.urls")),
    path("", include("portal.urls")),
    path("", include("portal.embed.urls")),
]
