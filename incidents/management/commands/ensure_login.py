import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from incidents.audit import acting_as, system_user
from incidents.seeding import GROUP_ADMINS, GROUP_RESPONDERS


class Command(BaseCommand):
    help = (
        "Make sure a first login exists: PORTAL_ADMIN_USERNAME / PORTAL_ADMIN_PASSWORD from the environment, "
        "or 'admin' with a generated password that is printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("PORTAL_ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Login '{username}' already exists.")
            return
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        with acting_as(system_user(), "ensure_login"):
            user = User.objects.create_superuser(username=username, email="", password=password)
            user.groups.add(*Group.objects.filter(name__in=[GROUP_ADMINS, GROUP_RESPONDERS]))
        self.stdout.write(self.style.SUCCESS(f"Created login  username: {username}  password: {password}"))
