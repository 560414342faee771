"""How the OpenAPI schema describes the API's authentication (drf-spectacular finds
this extension once the module is imported, in ApiConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal token from /account/tokens/: Authorization: Bearer ipt_…",
        }
