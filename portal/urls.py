from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from people.views import SignInView

urlpatterns = [
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/alerts/", include("alerts.urls")),
    path("api/v1/", include("api.urls")),
    path("status/", include("statuspage.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("approvals/", include("approvals.urls")),
    path("impact/", include("ledger.urls")),
    path("regulatory/", include("regulatory.urls")),
    path("insights/", include("insights.urls")),
    path("search/", include("search.urls")),
    path("", include("health.urls")),
    path("account/tokens/", include("api.token_urls")),
    path("", include("people.urls")),
    path("", include("incidents.urls")),
]

if settings.OIDC_ENABLED:
    # Single sign-on's addresses exist only when it is configured (OIDC_RP_CLIENT_ID).
    urlpatterns.insert(0, path("oidc/", include("people.sso_urls")))
