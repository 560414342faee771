from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/alerts/", include("alerts.urls")),
    path("status/", include("statuspage.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("", include("people.urls")),
    path("", include("incidents.urls")),
]
