from django.urls import path

from audit.views import ObjectHistoryView

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("incidents/", views.IncidentListView.as_view(), name="list"),
    path("incidents/new/", views.incident_declare, name="declare"),
    path("incidents/<str:reference>/", views.incident_detail, name="detail"),
    path("incidents/<str:reference>/history/", views.incident_history, name="history"),
    path("incidents/<str:reference>/transition/<slug:action>/", views.incident_transition, name="transition"),
    path("incidents/<str:reference>/severity/", views.incident_change_severity, name="change_severity"),
    path("incidents/<str:reference>/roles/", views.role_assign, name="role_assign"),
    path("incidents/<str:reference>/roles/<int:assignment_id>/release/", views.role_release, name="role_release"),
    path("incidents/<str:reference>/checklist/<int:item_id>/", views.checklist_toggle, name="checklist_toggle"),
    path("incidents/<str:reference>/notes/", views.timeline_note, name="note_add"),
    path("incidents/<str:reference>/updates/", views.status_update, name="update_post"),
    path("incidents/<str:reference>/bridge/", views.incident_bridge, name="bridge"),
    path("contacts/", views.ContactListView.as_view(), name="contacts"),
    path("runbooks/", views.RunbookListView.as_view(), name="runbooks"),
    path("runbooks/<slug:slug>/", views.RunbookDetailView.as_view(), name="runbook_detail"),
    path(
        "history/<str:model_name>/<int:pk>/",
        ObjectHistoryView.as_view(models=views.HISTORY_MODELS),
        name="object_history",
    ),
]
