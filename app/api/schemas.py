"""How an endpoint declares what it accepts and answers: pydantic models and ``@contract``.

Each view is decorated with ``@contract(...)`` naming one pydantic model for its JSON body, one
for its query string and one per answer. The decorator validates the request against those
models before the view runs (the view receives ``body=`` and ``query=``), and
``app/api/openapi.py`` builds ``/api/v1/openapi.json`` from the very same declarations, so what
is checked and what is documented cannot drift apart. A value that breaks its model is answered
with a 400 in the API's error shape, naming the field as the client sent it
(``messages[2].recipient``); an unknown field is a 400 naming it and the fields there are.

Field types reuse the rules of ``core.fields`` (``rule``), so the API, the dashboard and the
document agree on what a campaign id or a recipient is.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from flask import Response, current_app, request
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from werkzeug.exceptions import BadRequest

from app.api.errors import ApiError
from app.core import fields
from app.core.fields import FieldError


def document_model(schema: dict, model: type) -> None:
    """Leave out "default": null (it only says a field may be left out); add the model's forms."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    forms = getattr(model, "forms", None)
    if forms:
        schema["oneOf"] = [
            {"required": required, "not": {"anyOf": [{"required": [name]} for name in refused]}}
            for required, refused in forms
        ]


class Body(BaseModel):
    """A request body: a JSON object whose fields are all declared; any other is refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=document_model)
    # How an error names an object of this model: "'x' is not a field of <noun>".
    noun: ClassVar[str] = "this object"
    # For a body of several forms: (fields each requires, fields each refuses), documented as
    # the schema's oneOf; check_object enforces them.
    forms: ClassVar[list[tuple[list[str], list[str]]]] = []

    @model_validator(mode="before")
    @classmethod
    def check_fields(cls, data: Any) -> Any:
        """Name the first unknown field and the fields this object has, then check_object."""
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                raise fail(
                    f"is not a field of {cls.noun}; use {one_of(list(cls.model_fields))}",
                    field=str(unknown[0]),
                )
            cls.check_object(data)
        return data

    @classmethod
    def check_object(cls, data: dict) -> None:
        """Check how the fields sent go together, before each is validated; raise ``fail``."""


class Query(BaseModel):
    """A query string: declared arguments are checked, others are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=document_model)


class Answer(BaseModel):
    """A response body as documented; views build it as a dict and ``jsonify`` it."""

    model_config = ConfigDict(extra="forbid")


class Error(Answer):
    """The one shape of every API error."""

    class ErrorDetail(Answer):
        code: str
        message: str

    error: ErrorDetail


def fail(problem: str, field: str | None = None) -> PydanticCustomError:
    """Return the error a validator raises: the problem, and a field below the current one."""
    return PydanticCustomError("field_rule", "{problem}", {"problem": problem, "field": field})


def one_of(names: list[str]) -> str:
    """Return 'a, b or c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def rule(check: Callable[[Any], Any], schema: dict) -> Any:
    """Return a field type checked by a ``core.fields`` rule and documented as ``schema``.

    ``check`` takes the raw JSON value and returns the clean one or raises FieldError; its
    problem is reported under the field's own path.
    """

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except FieldError as error:
            raise fail(error.problem) from None

    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def strict_boolean(value: Any) -> bool:
    """Return true or false; null is refused (a PATCH cannot set a switch to nothing)."""
    if not isinstance(value, bool):
        raise FieldError("", "must be true or false")
    return value


# What fields.text accepts: something besides white space, and no control characters.
TEXT_PATTERN = r"^[^\u0000-\u001f]*\S[^\u0000-\u001f]*$"
NAME_SCHEMA = {"type": "string", "maxLength": fields.MAX_NAME, "pattern": TEXT_PATTERN}
Slug = rule(fields.slug, {"type": "string", "pattern": fields.SLUG.pattern})
Name = rule(lambda v: fields.text(v, "", fields.MAX_NAME), NAME_SCHEMA)
Recipient = rule(
    lambda v: fields.recipient(v, ""),
    {"type": "string", "maxLength": fields.MAX_RECIPIENT, "pattern": TEXT_PATTERN},
)
Html = rule(lambda v: fields.html(v, ""), {"type": "string"})
Metadata = rule(
    lambda v: fields.metadata(v, ""),
    {"type": ["object", "null"], "description": "any JSON object, returned as it was sent"},
)
# A switch that may be left out or null, meaning its default.
Switch = rule(lambda v: fields.boolean(v, "", None), {"type": ["boolean", "null"]})
Boolean = rule(strict_boolean, {"type": "boolean"})
# An ISO 8601 time with a time zone, or null.
Moment = rule(
    lambda v: None if v is None else fields.moment(v, ""),
    {"type": ["string", "null"], "format": "date-time"},
)
AgeHours = rule(
    lambda v: fields.age_hours(v, ""),
    {"type": "number", "minimum": 0, "maximum": fields.MAX_AGE_HOURS},
)


def json_body() -> Any:
    """Return the request's JSON object, or raise a 400 that says what is wrong with it."""
    try:
        body = request.get_json(force=True)
    except (BadRequest, RecursionError) as error:
        raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from error
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "The request body must be a JSON object.")
    return body


def integer_arg(low: int, high: int) -> Any:
    """Return a query argument type: an integer between low and high."""

    def check(raw: Any) -> int:
        try:
            value = int(raw) if isinstance(raw, str) and raw.isascii() else None
        except ValueError:
            value = None
        if value is None:
            raise FieldError("", "must be an integer")
        if not low <= value <= high:
            raise FieldError("", f"must be between {low} and {high}")
        return value

    return rule(check, {"type": "integer", "minimum": low, "maximum": high})


def number_arg(low: float, high: float) -> Any:
    """Return a query argument type: a number between low and high."""

    def check(raw: Any) -> float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise FieldError("", "must be a number") from None
        if not low <= value <= high:  # false for NaN too
            raise FieldError("", f"must be between {low:g} and {high:g}")
        return value

    return rule(check, {"type": "number", "minimum": low, "maximum": high})


def choice_arg(*choices: str) -> Any:
    """Return a query argument type: one of a few words."""

    def check(raw: Any) -> str:
        if raw not in choices:
            raise FieldError("", "must be " + one_of([f"'{c}'" for c in choices]))
        return raw

    return rule(check, {"type": "string", "enum": list(choices)})


def check_flag(raw: Any) -> bool:
    """Return a true/false query argument."""
    word = str(raw).lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    raise FieldError("", "must be 'true' or 'false'")


Flag = rule(check_flag, {"type": "boolean"})
# Large enough for any offset, small enough for SQLite's 64-bit integers.
MAX_OFFSET = 10**12
Offset = integer_arg(0, MAX_OFFSET)


def field_path(location: tuple, below: str | None) -> str:
    """Return a field's path as the client wrote it: ``messages[2].recipient``."""
    path = ""
    for part in (*location, *([below] if below else [])):
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith("~"):  # "~name": a tag of a union, not a field
            path += f".{part}" if path else str(part)
    return path


def problem_of(error: dict) -> str:
    """Return what is wrong with a value, in the words of the API's other errors."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "field_rule":
        return context["problem"]
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind in ("literal_error", "enum"):
        return f"must be {context['expected']}"
    if kind == "list_type":
        return "must be a list"
    if kind == "too_short":
        least = context.get("min_length", 1)
        return "must be a non-empty list" if least == 1 else f"must hold at least {least} items"
    if kind == "too_long":
        return f"may hold at most {context.get('max_length')} items"
    return error["msg"][:1].lower() + error["msg"][1:]


def validation_error(error: ValidationError) -> ApiError:
    """Return the 400 for the first problem pydantic found, naming the field."""
    first = error.errors(include_url=False)[0]
    path = field_path(first["loc"], (first.get("ctx") or {}).get("field"))
    problem = problem_of(first)
    message = f"'{path}' {problem}." if path else f"The request {problem}."
    return ApiError(400, "invalid_field", message)


def parse(model: type[BaseModel], data: Any) -> BaseModel:
    """Return ``data`` validated by ``model``, or raise the 400 naming the field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error) from None


@dataclass(frozen=True)
class Contract:
    """What one endpoint accepts and answers, as declared by ``@contract``."""

    summary: str
    body: type[Body] | None = None
    query: type[Query] | None = None
    # status -> an Answer model, None for no body, or {media type: model or "string"}.
    responses: dict[int, Any] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    public: bool = False
    # status -> {the operationId (view name) an answer leads to: {its parameter: where from}}
    links: dict[int, dict[str, dict[str, str]]] = field(default_factory=dict)
    # Instead of our bearer key: {scheme name: its OpenAPI security scheme} (an ESP's signature).
    security: dict[str, dict] | None = None
    # A body the view reads as bytes itself (it checks a signature over them first):
    # {media type: JSON Schema}, documented only.
    raw_body: dict[str, dict] | None = None


def check_answer(declared: Contract, response: Response) -> None:
    """Raise AssertionError for an answer its contract does not describe (run under tests)."""
    if response.status_code not in declared.responses:
        raise AssertionError(f"{request.endpoint} answered an undeclared {response.status_code}")
    answer = declared.responses[response.status_code]
    if answer is None:
        assert not response.get_data(), f"{request.endpoint} sent a body with its {response}"
        return
    if response.is_streamed or response.mimetype != "application/json":
        return
    schema = answer.get("application/json") if isinstance(answer, dict) else answer
    if schema is not None and not isinstance(schema, dict):
        TypeAdapter(schema).validate_python(response.get_json(), strict=True)


def contract(
    *,
    body: type[Body] | None = None,
    query: type[Query] | None = None,
    responses: dict[int, Any],
    errors: tuple[int, ...] = (),
    public: bool = False,
    links: dict[int, dict[str, dict[str, str]]] | None = None,
    security: dict[str, dict] | None = None,
    raw_body: dict[str, dict] | None = None,
):
    """Declare what a view accepts and answers; validate each request before the view runs.

    Put it below the route decorator. The view gets the validated body as ``body`` and the
    query string as ``query``. ``errors`` lists the error statuses the view itself raises
    (404, 409...); 400, 401 and 413 are added where they apply. ``links`` names, per status,
    the operations an answer's values lead to, as OpenAPI links:
    ``{201: {"show_thing": {"thing_id": "$response.body#/id"}}}``. ``security`` names the
    schemes that guard a route instead of our bearer key (an ESP's signature), and ``raw_body``
    documents a body the view must read as bytes (to check that signature over them).
    """

    def decorate(view):
        declared = Contract(
            summary=(view.__doc__ or "").strip().splitlines()[0],
            body=body,
            query=query,
            responses=responses,
            errors=errors,
            public=public,
            links=links or {},
            security=security,
            raw_body=raw_body,
        )

        @functools.wraps(view)
        def checked(*args, **kwargs):
            if body is not None:
                kwargs["body"] = parse(body, json_body())
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict())
            if not current_app.testing:
                return view(*args, **kwargs)
            response = current_app.make_response(view(*args, **kwargs))
            check_answer(declared, response)
            return response

        checked.contract = declared
        return checked

    return decorate
