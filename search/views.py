"""The search page: `/search/?q=`, for whoever may read the incident list."""

from django.views.generic import TemplateView

from incidents.views import ReadMixin

from . import selectors
from .forms import MAX_QUERY_LENGTH, SearchForm


class SearchView(ReadMixin, TemplateView):
    """Ranked matches by kind. An empty search shows how to search; a search the form refuses
    (too long, a NUL character) answers 400 with the reason, and the box keeps what was typed."""

    permission_required = "incidents.view_incident"
    template_name = "search/results.html"

    def get(self, request, *args, **kwargs):
        form = SearchForm(request.GET)
        text = form.cleaned_data["q"] if form.is_valid() else ""
        kinds = selectors.kinds_for(request.user)
        context = self.get_context_data(
            form=form,
            query=text,
            results=selectors.search(text, kinds) if text else None,
            kinds=kinds,
            per_kind=selectors.PER_KIND,
            max_length=MAX_QUERY_LENGTH,
        )
        return self.render_to_response(context, status=400 if form.errors else 200)


results = SearchView.as_view()
