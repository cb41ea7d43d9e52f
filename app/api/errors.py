"""JSON errors for the API: every failure names its problem, none shows a traceback."""

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from app.error_pages import error_page

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An API failure with its HTTP status, a stable code and a message naming the field."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str):
    """Return the JSON error body with its status."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="opentrack"'
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app) -> None:
    """Answer API errors as JSON; leave other pages to their own error pages."""

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not _is_api():
            return error_page(error)
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
        if error.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"The request body is larger than the limit of {limit} bytes."
        response = error_response(error.code or 500, code, message)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if _is_api():
            return error_response(500, "internal_error", "Something went wrong on our side.")
        return "Internal server error", 500
