"""The public status page, mounted at /status/ (no login).

The links in emails carry their token in the path (`confirm/<token>/`); each
answers a redirect to the page without it, so the token is in one request line,
not in the page's address, its form's request line or the Referer of what it loads.
"""

from django.urls import path

from . import views

app_name = "statuspage"

urlpatterns = [
    path("", views.index, name="index"),
    path("feed/", views.StatusFeed(), name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("confirm/", views.confirm, name="confirm"),
    path("confirm/<str:token>/", views.confirm_link, name="confirm_link"),
    path("unsubscribe/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/", views.unsubscribe_link, name="unsubscribe_link"),
]
