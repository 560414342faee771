"""A person's own settings page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from . import services
from .forms import ProfileForm
from .middleware import remember_time_zone


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def account(request):
    """Anyone signed in sees and changes their own time zone (nobody else's: no permission needed)."""
    form = ProfileForm(request.POST or None, initial={"time_zone": timezone.get_current_timezone_name()})
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.profile_update(
                user=request.user, actor=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            remember_time_zone(request, profile.time_zone)
            messages.success(request, f"Times are now shown in {profile.time_zone}.")
            return redirect("people:account")
    return render(
        request,
        "people/profile_form.html",
        {"form": form, "now": timezone.now()},
        status=400 if form.errors else 200,
    )
