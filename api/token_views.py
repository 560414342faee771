"""A person's own API tokens, under their account: list, create (the token is shown
once, on the page that answers the creation) and revoke. Nobody else's tokens are
reachable here (staff revoke others' in the admin)."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import TokenCreateForm
from .models import PersonalToken

# Revoked and expired tokens stay listed (for a while) so that a person sees why a script stopped.
LISTED = 50


def _page(request, *, form, created=None, token_text="", status=200):
    now = timezone.now()
    tokens = list(PersonalToken.objects.filter(user=request.user).order_by("-created_at", "-id")[:LISTED])
    return render(
        request,
        "api/token_list.html",
        {"form": form, "tokens": tokens, "now": now, "created": created, "token_text": token_text},
        status=status,
    )


@never_cache  # the answer to a creation carries the token: no cache may keep it
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request):
    form = TokenCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, text = services.token_create(
                user=request.user,
                actor=request.user,
                name=data["name"],
                scope=data["scope"],
                expires_at=timezone.now() + timedelta(days=data["expires_in"]),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return _page(request, form=TokenCreateForm(), created=token, token_text=text, status=201)
    return _page(request, form=form, status=400 if form.errors else 200)


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_object_or_404(PersonalToken, pk=pk, user=request.user)
    try:
        services.token_revoke(token=token, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"“{token.name}” is revoked: it no longer works.")
    return redirect("api_tokens:list")
