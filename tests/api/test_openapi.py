"""The OpenAPI document: valid OpenAPI 3.1, every /api/v1 route in it, built from the contracts."""

import pytest
from openapi_spec_validator import validate


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")  # no key: the document is public
    assert response.status_code == 200
    return response.get_json()


def openapi_path(rule: str) -> str:
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_api_route_of_the_url_map_is_in_the_document(app, document):
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1")]
    assert len(routes) > 15
    for rule in routes:
        operations = document["paths"].get(openapi_path(rule.rule), {})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in operations, f"{method} {rule.rule} is not in the document"
    documented = sum(len(operations) for operations in document["paths"].values())
    assert documented == sum(len(r.methods - {"HEAD", "OPTIONS"}) for r in routes)


def test_every_operation_documents_its_answers_and_errors(document):
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            assert responses["default"]["content"]["application/json"]["schema"] == error
            if operation.get("security") != []:
                assert "401" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), (method, path)
                content = operation["requestBody"]["content"]
                if "security" in operation:
                    continue  # an ESP's own post, read as bytes to check its signature
                body = content["application/json"]["schema"]
                name = body["$ref"].rsplit("/", 1)[1]
                assert document["components"]["schemas"][name]["additionalProperties"] is False
            if "{" in path:
                assert "404" in responses or path.startswith(("/api/v1/recipients",)), path


def test_request_schemas_come_from_the_models_the_api_checks(document):
    from app.api.inject import InjectRequest

    schema = document["components"]["schemas"]["InjectRequest"]
    assert set(schema["properties"]) == set(InjectRequest.model_fields)
    recipient = schema["properties"]["recipient"]
    assert recipient["maxLength"] == 320


def test_a_route_without_a_contract_stops_the_build(app):
    from app.api.openapi import openapi_document

    app.add_url_rule("/api/v1/undeclared", "api.undeclared", lambda: "")
    with pytest.raises(LookupError, match="undeclared"):
        openapi_document(app)


def test_links_lead_to_operations_and_their_path_parameters(document):
    operations = {
        operation["operationId"]: path
        for path, methods in document["paths"].items()
        for operation in methods.values()
    }
    links = [
        link
        for methods in document["paths"].values()
        for operation in methods.values()
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 10
    for link in links:
        path = operations[link["operationId"]]
        for parameter in link["parameters"]:
            assert "{" + parameter + "}" in path, (link, path)


def test_provider_routes_document_their_own_security_not_our_key(document):
    schemes = document["components"]["securitySchemes"]
    hooks = {
        "ses": "sns_signature",
        "sendgrid": "sendgrid_signature",
        "mailgun": "mailgun_signature",
        "postmark": "postmark_basic",
    }
    for provider, scheme in hooks.items():
        operation = document["paths"][f"/api/v1/delivery-events/{provider}"]["post"]
        assert operation["security"] == [{scheme: []}]
        assert scheme in schemes and schemes[scheme]["description"]
        assert "401" in operation["responses"]
        assert "requestBody" in operation
    assert schemes["postmark_basic"] == {**schemes["postmark_basic"], "scheme": "basic"}
    generic = document["paths"]["/api/v1/delivery-events/generic"]["post"]
    assert "security" not in generic  # our bearer key, the document's default


def test_every_api_route_declares_a_contract(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "contract", None) is not None, rule.rule
