"""The readable history page of one object, for any model an app chooses to show."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from .history import object_history_page


class ObjectHistoryView(LoginRequiredMixin, TemplateView):
    """`/…/<model_name>/<pk>/`: who changed what and why, for the models in `models`
    (model name -> model), to users who may view that model; a page at a time."""

    template_name = "audit/object_history.html"
    models: dict = {}
    http_method_names = ["get", "head"]

    def get_context_data(self, model_name, pk, **kwargs):
        model = self.models.get(model_name)
        if model is None:
            raise Http404("No history page for this kind of object.")
        if not self.request.user.has_perm(f"{model._meta.app_label}.view_{model._meta.model_name}"):
            raise PermissionDenied
        obj = get_object_or_404(model, pk=pk)
        page = object_history_page(obj, self.request.GET)
        return super().get_context_data(
            object=obj, verbose_name=model._meta.verbose_name, page=page, entries=page.object_list, **kwargs
        )
