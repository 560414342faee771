"""The public status page, mounted at /status/ (no login)."""

from django.urls import path

from . import views

app_name = "statuspage"

urlpatterns = [
    path("", views.index, name="index"),
    path("feed/", views.StatusFeed(), name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
