from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("account/", views.account, name="account"),
]
