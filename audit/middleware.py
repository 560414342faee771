"""Readable reasons for writes made directly in a request (the admin, say)."""

from .actors import reset_request_reason, set_request_reason


class AuditReasonMiddleware:
    """Give every history row written during a request a reason naming it, unless
    the code that wrote it (a service) gave its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = "admin" if request.path.startswith("/admin/") else "web"
        token = set_request_reason(f"{where}: {request.method} {request.path}")
        try:
            return self.get_response(request)
        finally:
            reset_request_reason(token)
