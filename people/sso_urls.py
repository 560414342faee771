"""Single sign-on's two addresses, routed under oidc/ only when it is on (portal/urls.py).

Unnamespaced: mozilla-django-oidc reverses `oidc_authentication_callback` by that name."""

from django.urls import path
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from . import views

urlpatterns = [
    path("authenticate/", OIDCAuthenticationRequestView.as_view(), name="oidc_authentication_init"),
    path("callback/", views.SSOCallbackView.as_view(), name="oidc_authentication_callback"),
]
