from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("incidents/<str:reference>/", views.IncidentDetailView.as_view(), name="detail"),
    path("runbooks/<slug:slug>/", views.RunbookDetailView.as_view(), name="runbook_detail"),
]
