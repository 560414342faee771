"""The public status page: no login, customer-facing updates only (see `statuspage.selectors`)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services
from .forms import SubscribeForm
from .services import CONFIRM_SALT, UNSUBSCRIBE_SALT


def _page(request, form, status: int = 200):
    current, past = selectors.public_incidents()
    context = {
        "title": settings.STATUS_PAGE_TITLE,
        "current": current,
        "past": past,
        "form": form,
        "history_days": settings.STATUS_PAGE_HISTORY_DAYS,
        "current_limit": selectors.CURRENT_LIMIT,
        "past_limit": selectors.PAST_LIMIT,
    }
    return render(request, "statuspage/index.html", context, status=status)


def index(request):
    return _page(request, SubscribeForm())


@require_http_methods(["POST"])
def subscribe(request):
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    services.subscriber_subscribe(email=form.cleaned_data["email"])
    # The same answer whether or not the address was already known: the page reveals no subscribers.
    return _message(request, "check_inbox")


def _message(request, kind: str, status: int = 200):
    return render(
        request, "statuspage/message.html", {"title": settings.STATUS_PAGE_TITLE, "kind": kind}, status=status
    )


def _confirming(token: str):
    subscriber = services.subscriber_from_token(token, CONFIRM_SALT, max_age=settings.STATUS_CONFIRM_MAX_AGE)
    # Unsubscribed (and so erased) since the link was sent: that subscription has ended, and its link with it.
    return None if subscriber is None or subscriber.is_erased else subscriber


def _unsubscribing(token: str):
    # No max_age: an unsubscribe link works for as long as someone keeps the email.
    return services.subscriber_from_token(token, UNSUBSCRIBE_SALT)


@dataclass(frozen=True)
class EmailedLink:
    """A link sent by email (confirm, unsubscribe) and the page it leads to.

    The token is in the link's path, so every access log keeps that request
    line. The link only sets the token in a cookie scoped to its page and
    redirects there; the page, its form's POST and the Referer of everything it
    loads carry no token. No JavaScript, and a GET changes nothing: mail
    scanners follow links, so the page asks for one click.
    """

    page: str  # URL name of the page without the token
    cookie: str
    find: Callable  # token -> subscriber, or None if the token is invalid or expired
    action: Callable  # a service taking subscriber=
    kind: str
    done_kind: str

    def follow(self, request, token: str):
        if self.find(token) is None:
            return _message(request, "invalid", status=404)
        page = reverse(self.page)
        response = HttpResponseRedirect(page)
        response.set_cookie(
            self.cookie,
            token,
            max_age=LINK_COOKIE_MAX_AGE,
            path=page,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",  # sent on the redirect from a link clicked in a webmail (a cross-site navigation)
        )
        return response

    def answer(self, request):
        subscriber = self.find(request.COOKIES.get(self.cookie, ""))
        if subscriber is None:
            return _message(request, "invalid", status=404)
        if request.method != "POST":
            return _message(request, self.kind)
        self.action(subscriber=subscriber)
        response = _message(request, self.done_kind)
        response.delete_cookie(self.cookie, path=reverse(self.page), samesite="Lax")
        return response


# Long enough to press the button; the token's own age is checked again when it is used.
LINK_COOKIE_MAX_AGE = 60 * 60
CONFIRM = EmailedLink(
    page="statuspage:confirm",
    cookie="status_confirm",
    find=_confirming,
    action=services.subscriber_confirm,
    kind="confirm",
    done_kind="confirmed",
)
UNSUBSCRIBE = EmailedLink(
    page="statuspage:unsubscribe",
    cookie="status_unsubscribe",
    find=_unsubscribing,
    action=services.subscriber_unsubscribe,
    kind="unsubscribe",
    done_kind="unsubscribed",
)


@never_cache
@require_GET
def confirm_link(request, token):
    return CONFIRM.follow(request, token)


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request):
    return CONFIRM.answer(request)


@never_cache
@require_GET
def unsubscribe_link(request, token):
    return UNSUBSCRIBE.follow(request, token)


@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request):
    return UNSUBSCRIBE.answer(request)


class PlainTextAtomFeed(Atom1Feed):
    """Atom whose summaries are plain text: updates are written as text, and a
    reader must show "<b>" as typed, not interpret it (Django marks them html)."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"] is not None:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class StatusFeed(Feed):
    """Atom feed of the newest customer-facing updates (`selectors.feed_entries`); each entry is one update."""

    feed_type = PlainTextAtomFeed
    description_template = None

    def title(self):
        return settings.STATUS_PAGE_TITLE

    def subtitle(self):
        return f"Customer-facing updates of the last {settings.STATUS_PAGE_HISTORY_DAYS} days"

    def link(self):
        return reverse("statuspage:index")

    def items(self):
        return selectors.feed_entries()

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
