"""The public status page, mounted at /status/ (no login)."""

from django.urls import path

from . import status_views

app_name = "status"

urlpatterns = [
    path("", status_views.index, name="index"),
    path("feed/", status_views.StatusFeed(), name="feed"),
    path("subscribe/", status_views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", status_views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", status_views.unsubscribe, name="unsubscribe"),
]
