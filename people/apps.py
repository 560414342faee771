from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import middleware

        user_logged_in.connect(middleware.remember_time_zone_on_sign_in, dispatch_uid="people.time_zone_on_sign_in")
