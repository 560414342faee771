from django.urls import path

from . import views

app_name = "postmortems"

urlpatterns = [
    path("", views.PostMortemListView.as_view(), name="list"),
    path("actions/", views.ActionItemListView.as_view(), name="actions"),
    path("actions/<int:pk>/", views.action_item_edit, name="action_edit"),
    path("actions/<int:pk>/status/", views.action_item_status, name="action_status"),
    path("actions/<int:pk>/verify/", views.action_item_verify, name="action_verify"),
    path("actions/<int:pk>/send-back/", views.action_item_send_back, name="action_send_back"),
    path("open/<str:reference>/", views.postmortem_open, name="open"),
    path("<str:reference>/", views.PostMortemDetailView.as_view(), name="detail"),
    path("<str:reference>/edit/", views.postmortem_edit, name="edit"),
    path("<str:reference>/export.md", views.postmortem_export, name="export"),
    path("<str:reference>/print/", views.postmortem_print, name="print"),
    path("<str:reference>/actions/new/", views.action_item_create, name="action_create"),
    path("<str:reference>/milestones/<str:kind>/complete/", views.milestone_complete, name="milestone_complete"),
]
