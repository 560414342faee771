"""The portal's URLs plus `/bench/floor/`: the cheapest page a signed-in user can ask for. It goes through
the same middleware (session, authentication, CSRF, security headers) and nothing else, so it is what the
machine does per request before a view does any work. Every page is measured against it."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


@login_required
def floor(request):
    return HttpResponse("ok")


@login_required
def layout(request):
    """The portal's layout (base.html: navigation, search box, account, health banner) around no content:
    what every staff page pays before its own work. A reference row beside the floor, not a target."""
    return render(request, "base.html")


urlpatterns = [
    path("bench/floor/", floor, name="bench-floor"),
    path("bench/layout/", layout, name="bench-layout"),
    *portal_urlpatterns,
]
