"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, built from the routes' contracts.

Every /api/v1 route of the app's url_map is described from the ``@contract`` its view
declares: the path's parameters, the query model, the body model, each answer and the errors.
A route without a contract stops the build, so no endpoint can go undocumented.
"""

import re
import types
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.base import bp
from app.api.schemas import Contract, Error, contract

REF = "#/components/schemas/{model}"
PATH_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")
ERRORS = {
    400: "A value breaks its field's rule, an unknown field was sent, or the JSON is malformed.",
    401: "No API key, or one that is unknown or revoked.",
    404: "The resource named in the path does not exist.",
    409: "A resource with that id already exists.",
    413: "The request body is larger than OPENTRACK_MAX_REQUEST_BYTES.",
    422: "The request is well formed but cannot apply to this resource as it stands.",
    500: "The server is set up wrongly (a setting holds something unusable).",
    502: "A service the request depends on could not be reached.",
}


@bp.get("/openapi.json")
@contract(responses={200: {"application/json": {"type": "object"}}}, public=True)
def openapi_json():
    """Describe every route of this API, its requests, answers and errors, as OpenAPI 3.1."""
    cached = current_app.extensions.get("openapi")
    if cached is None:
        cached = current_app.extensions["openapi"] = openapi_document(current_app)
    return jsonify(cached)


def api_routes(app: Flask) -> list[tuple[str, str, Contract, Any]]:
    """Return (path, method, contract, view) of every /api/v1 route, in path order."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        # Every route under the prefix, on bp or on another blueprint (the ESPs' hooks).
        if not rule.rule.startswith(bp.url_prefix + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, "contract", None)
        if declared is None:
            raise LookupError(f"{rule.endpoint} ({rule.rule}) declares no @contract")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, method, declared, view))
    return routes


def models_of(declared: Contract) -> list[tuple[type[BaseModel], str]]:
    """Return the models a contract names, each with its JSON Schema mode."""
    found = [(declared.body, "validation")] if declared.body else []
    for answer in declared.responses.values():
        media = answer if isinstance(answer, dict) else {"application/json": answer}
        for schema in media.values():
            for model in getattr(schema, "__args__", (schema,)):
                if isinstance(model, type) and issubclass(model, BaseModel):
                    found.append((model, "serialization"))
    return found


def media_schema(schema: Any, refs: dict) -> dict:
    """Return the JSON Schema of one answer's media type."""
    if schema == "string":
        return {"type": "string"}
    if isinstance(schema, dict):
        return schema
    if isinstance(schema, types.UnionType):
        return {"oneOf": [refs[(model, "serialization")] for model in schema.__args__]}
    return refs[(schema, "serialization")]


def operation(path: str, method: str, declared: Contract, view: Any, refs: dict) -> dict:
    """Return the OpenAPI operation of one route and method."""
    doc = (view.__doc__ or "").strip().split("\n", 1)
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            # A path: parameter (an address) may hold slashes; the others may not.
            "schema": {"type": "string", **({} if converter == "path" else {"pattern": "^[^/]+$"})},
        }
        for converter, name in PATH_PARAMETER.findall(path)
    ]
    if declared.query is not None:
        query = declared.query.model_json_schema(ref_template=REF)
        for name, schema in query["properties"].items():
            schema = {key: value for key, value in schema.items() if key != "title"}
            parameters.append({"name": name, "in": "query", "required": False, "schema": schema})
    responses: dict[str, Any] = {}
    for status, answer in declared.responses.items():
        if answer is None:
            responses[str(status)] = {"description": "Done; no body."}
            continue
        media = answer if isinstance(answer, dict) else {"application/json": answer}
        responses[str(status)] = {
            "description": doc[0],
            "content": {kind: {"schema": media_schema(s, refs)} for kind, s in media.items()},
        }
        if status in declared.links:
            responses[str(status)]["links"] = {
                target: {"operationId": target, "parameters": parameters}
                for target, parameters in declared.links[status].items()
            }
    errors = set(declared.errors)
    if declared.body is not None or declared.raw_body is not None:
        errors |= {400, 413}
    if declared.query is not None:
        errors.add(400)
    if not declared.public:
        errors.add(401)
    error = {"content": {"application/json": {"schema": refs[(Error, "serialization")]}}}
    for status in sorted(errors):
        described = ERRORS.get(status, "")
        if status == 401 and declared.security:
            described = "The provider's signature or credentials are missing or do not verify."
        responses[str(status)] = {"description": described, **error}
    responses["default"] = {"description": "Any other error, in the same shape.", **error}
    result: dict[str, Any] = {
        "operationId": view.__name__,
        "summary": doc[0],
        "tags": [view.__module__.rsplit(".", 1)[-1]],
        "parameters": parameters,
        "responses": responses,
    }
    if len(doc) > 1:
        result["description"] = " ".join(doc[1].split())
    if declared.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(declared.body, "validation")]}},
        }
    if declared.raw_body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": schema} for kind, schema in declared.raw_body.items()},
        }
    if declared.public:
        result["security"] = []
    elif declared.security:
        result["security"] = [{name: []} for name in declared.security]
    return result


def openapi_document(app: Flask) -> dict:
    """Return the OpenAPI 3.1 document of every /api/v1 route of ``app``."""
    routes = api_routes(app)
    models = {(Error, "serialization")}
    for _, _, declared, _ in routes:
        models.update(models_of(declared))
    refs, definitions = models_json_schema(
        sorted(models, key=lambda item: (item[0].__name__, item[1])), ref_template=REF
    )
    schemes = {"bearer": {"type": "http", "scheme": "bearer"}}
    paths: dict[str, dict] = {}
    for path, method, declared, view in routes:
        schemes.update(declared.security or {})
        openapi_path = PATH_PARAMETER.sub(r"{\2}", path)
        paths.setdefault(openapi_path, {})[method.lower()] = operation(
            path, method, declared, view, refs
        )
    try:
        release = version("opentrack")
    except PackageNotFoundError:
        release = "0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Opentrack API",
            "version": release,
            "description": "Campaigns, inject, exports, follow-ups and their rules, delivery "
            "events, recipients and send times, conversions, webhooks and privacy. "
            "Every error is {'error': {'code', 'message'}} and names the field at fault.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": schemes,
        },
        "security": [{"bearer": []}],
    }
