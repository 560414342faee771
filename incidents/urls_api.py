"""Machine-facing endpoints, mounted at /api/."""

from django.urls import path

from . import api

app_name = "incidents_api"

urlpatterns = [
    path("alerts/alertmanager/", api.alertmanager_webhook, name="alertmanager_webhook"),
]
