from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.ApprovalListView.as_view(), name="list"),
    path("<int:pk>/", views.approval_detail, name="detail"),
    path("<int:pk>/decide/", views.approval_decide, name="decide"),
    path("<int:pk>/withdraw/", views.approval_withdraw, name="withdraw"),
    path("request/<str:reference>/<slug:action>/", views.approval_new, name="request"),
]
