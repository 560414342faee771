from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("account/", views.account, name="account"),
    # SecondFactorMiddleware lets an unverified person reach everything under account/two-factor/.
    path("account/two-factor/", views.two_factor, name="two_factor"),
    path("account/two-factor/set-up/", views.otp_enrol, name="otp_enrol"),
    path("account/two-factor/verify/", views.otp_verify, name="otp_verify"),
    path("account/two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("account/two-factor/turn-off/", views.otp_off, name="otp_off"),
]
