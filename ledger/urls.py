from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("awaiting/", views.awaiting, name="awaiting"),
    path("<str:reference>/", views.incident_ledger, name="incident"),
    path("<str:reference>/history/", views.ledger_history, name="history"),
    path("<str:reference>/entries/", views.entry_add, name="add"),
    path("<str:reference>/entries/<int:pk>/request/", views.entry_request_confirmation, name="request"),
    path("<str:reference>/entries/<int:pk>/confirm/", views.entry_confirm, name="confirm"),
    path("<str:reference>/entries/<int:pk>/reverse/", views.entry_reverse, name="reverse"),
]
