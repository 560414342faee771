"""Who may do what through the API: a valid token, a scope that allows the method, and
the same Django permission the portal's page for that action asks for."""

from rest_framework import permissions

from .models import PersonalToken


def required_permissions(view, method: str) -> tuple[str, ...]:
    """The permissions `view` asks for `method` (HEAD and OPTIONS as GET)."""
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    needed = getattr(view, "required_permissions", {}).get(method, ())
    return (needed,) if isinstance(needed, str) else tuple(needed)


class TokenScopePermission(permissions.BasePermission):
    """A token is required everywhere; writing needs a write token; each view names the
    Django permissions per method in `required_permissions` ({"GET": "app.view_x"})."""

    message = "You do not have permission to do this."

    def has_permission(self, request, view):
        token = request.auth
        if not isinstance(token, PersonalToken) or request.user is None:
            return False  # DRF answers 401: no credentials were accepted
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405 Method Not Allowed
        if request.method not in permissions.SAFE_METHODS and not token.can_write:
            self.message = "This token is read-only: create a read and write token to change anything."
            return False
        missing = [perm for perm in required_permissions(view, request.method) if not request.user.has_perm(perm)]
        if missing:
            self.message = f"Your account lacks the permission this needs ({', '.join(missing)})."
            return False
        return True
