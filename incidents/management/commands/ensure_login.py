import os
import secrets

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.actors import acting_as, system_user
from incidents.seeding import GROUP_ADMINS, GROUP_RESPONDERS


class Command(BaseCommand):
    help = (
        "Make sure a first login exists: PORTAL_ADMIN_USERNAME / PORTAL_ADMIN_PASSWORD from the environment, "
        "or 'admin' with a generated password that is printed once. The password must pass "
        "AUTH_PASSWORD_VALIDATORS."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("PORTAL_ADMIN_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Login '{username}' already exists.")
            return
        # The validators compare the password with the account's attributes, so they see the account.
        candidate = User(username=username, email="")
        password = os.environ.get("PORTAL_ADMIN_PASSWORD")
        if password:
            try:
                password_validation.validate_password(password, user=candidate)
            except ValidationError as exc:
                raise CommandError(
                    "PORTAL_ADMIN_PASSWORD is too weak: " + " ".join(exc.messages) + " Choose another, or leave it "
                    "empty to have one generated."
                ) from None
        else:
            password = self._generated_password(candidate)
        with acting_as(system_user(), "ensure_login"):
            user = User.objects.create_superuser(username=username, email="", password=password)
            user.groups.add(*Group.objects.filter(name__in=[GROUP_ADMINS, GROUP_RESPONDERS]))
        self.stdout.write(self.style.SUCCESS(f"Created login  username: {username}  password: {password}"))

    @staticmethod
    def _generated_password(candidate) -> str:
        # 24 random URL-safe characters pass the default validators all but always; checking makes it certain.
        for _ in range(10):
            password = secrets.token_urlsafe(18)
            try:
                password_validation.validate_password(password, user=candidate)
            except ValidationError:
                continue
            return password
        raise CommandError("No generated password passes AUTH_PASSWORD_VALIDATORS; set PORTAL_ADMIN_PASSWORD.")
