"""The OpenAPI 3 schema at /api/v1/schema/: valid, complete, JSON or YAML."""

import pytest
import yaml
from drf_spectacular.validation import validate_schema

PATHS = {
    "/api/v1/incidents/": {"get", "post"},
    "/api/v1/incidents/{reference}/": {"get"},
    "/api/v1/incidents/{reference}/transition/": {"post"},
    "/api/v1/incidents/{reference}/severity/": {"post"},
    "/api/v1/incidents/{reference}/notes/": {"post"},
    "/api/v1/incidents/{reference}/timeline/": {"get"},
    "/api/v1/incidents/{reference}/updates/": {"get", "post"},
    "/api/v1/postmortems/": {"get"},
    "/api/v1/postmortems/{reference}/": {"get", "patch"},
    "/api/v1/postmortems/{reference}/milestones/{kind}/complete/": {"post"},
    "/api/v1/postmortems/{reference}/action-items/": {"post"},
    "/api/v1/action-items/": {"get"},
    "/api/v1/action-items/{id}/": {"get", "patch"},
    "/api/v1/action-items/{id}/status/": {"post"},
    "/api/v1/action-items/{id}/verify/": {"post"},
    "/api/v1/action-items/{id}/send-back/": {"post"},
    "/api/v1/contacts/": {"get"},
}


@pytest.fixture
def schema(api, reader):
    response = api.as_token(reader.text).get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_the_schema_is_valid_openapi_3_with_every_endpoint(schema):
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow

    assert schema["openapi"].startswith("3.")
    for path, methods in PATHS.items():
        assert methods <= set(schema["paths"][path]), path
    assert not any("schema" in path for path in schema["paths"])
    assert schema["components"]["securitySchemes"]["personalToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["personalToken"]["description"],
    }


def test_the_schema_describes_errors_and_pages(schema):
    declare = schema["paths"]["/api/v1/incidents/"]["post"]
    listing = schema["paths"]["/api/v1/incidents/"]["get"]

    assert {"201", "400", "401", "403", "429"} <= set(declare["responses"])
    assert declare["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert {"limit", "after", "before", "severity", "sort"} <= {p["name"] for p in listing["parameters"]}


def test_the_schema_describes_verification(schema):
    components = schema["components"]["schemas"]

    def component(node):
        ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]  # allOf when it has a description
        return components[ref.rsplit("/", 1)[1]]

    def request_schema(path):
        return component(schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])

    assert request_schema("/api/v1/action-items/{id}/verify/")["required"] == ["note"]
    assert request_schema("/api/v1/action-items/{id}/send-back/")["required"] == ["reason"]
    status = request_schema("/api/v1/action-items/{id}/status/")
    assert "evidence" in status["properties"]
    assert component(status["properties"]["status"])["enum"] == [
        "open",
        "in_progress",
        "done",
        "deferred",
    ]
    item = components["ActionItem"]["properties"]
    assert {"verify_by", "evidence", "verified_by", "verified_at", "verification_note"} <= set(item)
    assert {"verify_by", "success_metric"} <= set(components["ActionItemInput"]["properties"])


def test_the_schema_in_yaml(api, reader):
    response = api.as_token(reader.text).get("/api/v1/schema/?format=yaml")

    assert response.status_code == 200
    parsed = yaml.safe_load(response.content)
    assert set(PATHS) <= set(parsed["paths"])


def test_the_schema_needs_a_token_and_says_so_in_json(api, db):
    response = api.get("/api/v1/schema/?format=yaml")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
