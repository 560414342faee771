"""The versioned JSON API, mounted at /api/v1/. Every address needs a token (api.authentication)."""

from django.urls import path, re_path

from . import views

app_name = "api"

urlpatterns = [
    path("", views.RootView.as_view(), name="root"),
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("incidents/", views.IncidentListView.as_view(), name="incidents"),
    path("incidents/<str:reference>/", views.IncidentDetailView.as_view(), name="incident"),
    path("incidents/<str:reference>/transition/", views.IncidentTransitionView.as_view(), name="incident_transition"),
    path("incidents/<str:reference>/severity/", views.IncidentSeverityView.as_view(), name="incident_severity"),
    path("incidents/<str:reference>/timeline/", views.IncidentTimelineView.as_view(), name="incident_timeline"),
    path("incidents/<str:reference>/notes/", views.IncidentNoteView.as_view(), name="incident_notes"),
    path("incidents/<str:reference>/updates/", views.IncidentUpdatesView.as_view(), name="incident_updates"),
    path("postmortems/", views.PostMortemListView.as_view(), name="postmortems"),
    path("postmortems/<str:reference>/", views.PostMortemDetailView.as_view(), name="postmortem"),
    path(
        "postmortems/<str:reference>/milestones/<str:kind>/complete/",
        views.MilestoneCompleteView.as_view(),
        name="milestone_complete",
    ),
    path(
        "postmortems/<str:reference>/action-items/",
        views.ActionItemCreateView.as_view(),
        name="postmortem_action_items",
    ),
    path("action-items/", views.ActionItemListView.as_view(), name="action_items"),
    path("action-items/<int:pk>/", views.ActionItemDetailView.as_view(), name="action_item"),
    path("action-items/<int:pk>/status/", views.ActionItemStatusView.as_view(), name="action_item_status"),
    path("action-items/<int:pk>/verify/", views.ActionItemVerifyView.as_view(), name="action_item_verify"),
    path("action-items/<int:pk>/send-back/", views.ActionItemSendBackView.as_view(), name="action_item_send_back"),
    path("contacts/", views.ContactListView.as_view(), name="contacts"),
    # Last: anything else under /api/v1/ is a JSON 404 (after the token check), never the portal's HTML page.
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not_found"),
]
