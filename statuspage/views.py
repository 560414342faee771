"""The public status page: no login, customer-facing updates only (see `statuspage.selectors`)."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.http import require_http_methods

from . import selectors, services
from .forms import SubscribeForm
from .services import CONFIRM_SALT, UNSUBSCRIBE_SALT


def index(request):
    current, past = selectors.public_incidents()
    return render(
        request,
        "statuspage/index.html",
        {
            "title": settings.STATUS_PAGE_TITLE,
            "current": current,
            "past": past,
            "form": SubscribeForm(),
            "history_days": settings.STATUS_PAGE_HISTORY_DAYS,
        },
    )


@require_http_methods(["POST"])
def subscribe(request):
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        current, past = selectors.public_incidents()
        context = {
            "title": settings.STATUS_PAGE_TITLE,
            "current": current,
            "past": past,
            "form": form,
            "history_days": settings.STATUS_PAGE_HISTORY_DAYS,
        }
        return render(request, "statuspage/index.html", context, status=400)
    services.subscriber_subscribe(email=form.cleaned_data["email"])
    # The same answer whether or not the address was already known: the page reveals no subscribers.
    return render(request, "statuspage/message.html", {"title": settings.STATUS_PAGE_TITLE, "kind": "check_inbox"})


def _token_view(request, token, *, salt, max_age, action, kind, done_kind):
    subscriber = services.subscriber_from_token(token, salt, max_age=max_age)
    if subscriber is None:
        raise Http404("This link is invalid or has expired.")
    if request.method == "POST":
        action(subscriber=subscriber)
        return render(request, "statuspage/message.html", {"title": settings.STATUS_PAGE_TITLE, "kind": done_kind})
    # A GET changes nothing (mail scanners follow links); the page asks for one click.
    return render(request, "statuspage/message.html", {"title": settings.STATUS_PAGE_TITLE, "kind": kind})


@require_http_methods(["GET", "POST"])
def confirm(request, token):
    return _token_view(
        request,
        token,
        salt=CONFIRM_SALT,
        max_age=settings.STATUS_CONFIRM_MAX_AGE,
        action=services.subscriber_confirm,
        kind="confirm",
        done_kind="confirmed",
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    return _token_view(
        request,
        token,
        salt=UNSUBSCRIBE_SALT,
        max_age=None,
        action=services.subscriber_unsubscribe,
        kind="unsubscribe",
        done_kind="unsubscribed",
    )


class PlainTextAtomFeed(Atom1Feed):
    """Atom whose summaries are plain text: updates are written as text, and a
    reader must show "<b>" as typed, not interpret it (Django marks them html)."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"] is not None:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class StatusFeed(Feed):
    """Atom feed of customer-facing updates; each entry is one update."""

    feed_type = PlainTextAtomFeed
    description_template = None

    def title(self):
        return settings.STATUS_PAGE_TITLE

    def subtitle(self):
        return f"Customer-facing updates of the last {settings.STATUS_PAGE_HISTORY_DAYS} days"

    def link(self):
        return reverse("statuspage:index")

    def items(self):
        current, past = selectors.public_incidents()
        entries = [(incident, update) for incident in current + past for update in incident.updates]
        entries.sort(key=lambda pair: (pair[1].posted_at, pair[1].id), reverse=True)
        return entries[:100]

    def item_title(self, item):
        incident, update = item
        return f"{incident.heading} ({incident.status})"

    def item_description(self, item):
        return item[1].body

    def item_link(self, item):
        return f"{reverse('statuspage:index')}#incident-{item[0].id}"

    def item_guid(self, item):
        return f"{settings.SITE_URL}{reverse('statuspage:index')}#update-{item[1].id}"

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        return item[1].posted_at

    def item_updateddate(self, item):
        return item[1].posted_at
