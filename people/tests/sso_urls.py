"""The portal's URLs as they are with single sign-on on (portal/urls.py adds these when configured)."""

from django.urls import include, path

from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [path("oidc/", include("people.sso_urls")), *portal_urlpatterns]
