from django.urls import path

from . import views

app_name = "regulatory"

urlpatterns = [
    path("", views.clock_list, name="list"),
    path("clocks/<int:pk>/", views.clock_detail, name="clock"),
    path("clocks/<int:pk>/file/", views.clock_file, name="file"),
    path("incidents/<str:reference>/flag/", views.flag_set, name="flag"),
]
