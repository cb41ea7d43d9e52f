"""The JSON API for webhook endpoints: register, list, remove, see deliveries, redeliver."""

import socket
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request

from app.api.campaigns import get_store, int_arg, invalid, json_body, require_api_key, text_field
from app.api.errors import ApiError
from app.core import webhooks

bp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1")
bp.before_request(require_api_key)

MAX_DESCRIPTION = 200
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def address_problem(url: str) -> str | None:
    """Return why a webhook URL's host may not be called, or None when it may."""
    if current_app.config["WEBHOOK_ALLOW_PRIVATE"]:
        return None
    host = urlsplit(url).hostname
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return f"has a host ('{host}') that does not resolve"
    private = sorted(a for a in addresses if not webhooks.public_address(a))
    if private:
        return (
            f"points at a private, loopback or link-local address ({private[0]}); "
            "set OPENTRACK_WEBHOOK_ALLOW_PRIVATE=true to allow it"
        )
    return None


def parse_webhook(body: dict) -> tuple[str, list[str], bool, str | None]:
    """Return (url, events, include_machine, description) of a registration, or raise 400."""
    url = body.get("url")
    problem = webhooks.url_problem(url) or address_problem(url)
    if problem:
        raise invalid("url", problem)
    events = body.get("events", ["first_open", "click"])
    if (
        not isinstance(events, list)
        or not events
        or any(event not in webhooks.EVENT_TYPES for event in events)
    ):
        raise invalid("events", "must be a non-empty list of " + ", ".join(webhooks.EVENT_TYPES))
    include_machine = body.get("include_machine", True)
    if not isinstance(include_machine, bool):
        raise invalid("include_machine", "must be true or false")
    description = body.get("description")
    if description is not None:
        description = text_field(description, "description", MAX_DESCRIPTION)
    return url.strip(), list(dict.fromkeys(events)), include_machine, description


def find_webhook(webhook_id: str) -> dict:
    """Return an endpoint or raise a 404 naming it."""
    webhook = get_store().get_webhook(webhook_id)
    if webhook is None:
        raise ApiError(404, "not_found", f"No webhook with id '{webhook_id}'.")
    return webhook


@bp.post("/webhooks")
def create_webhook():
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    url, events, include_machine, description = parse_webhook(json_body())
    webhook = get_store().create_webhook(url, events, include_machine, description)
    return jsonify(webhook), 201


@bp.get("/webhooks")
def list_webhooks():
    """List the registered endpoints with their delivery counts."""
    return jsonify({"webhooks": get_store().list_webhooks()})


@bp.get("/webhooks/<webhook_id>")
def show_webhook(webhook_id: str):
    """Show one endpoint with its most recent deliveries and failures."""
    webhook = find_webhook(webhook_id)
    store = get_store()
    webhook["recent_deliveries"] = store.list_deliveries(webhook_id, limit=20)
    webhook["recent_failures"] = store.list_deliveries(webhook_id, "failed", limit=20)
    return jsonify(webhook)


@bp.delete("/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str):
    """Remove an endpoint; its pending deliveries are cancelled."""
    if not get_store().delete_webhook(webhook_id):
        raise ApiError(404, "not_found", f"No webhook with id '{webhook_id}'.")
    return "", 204


@bp.get("/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str):
    """List an endpoint's deliveries, newest first; ``status`` filters, ``limit`` pages."""
    find_webhook(webhook_id)
    status = request.args.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise invalid("status", "must be one of " + ", ".join(DELIVERY_STATUSES))
    limit = int_arg("limit", 50, 1, 1000)
    deliveries = get_store().list_deliveries(webhook_id, status, limit)
    return jsonify({"webhook_id": webhook_id, "deliveries": deliveries})


@bp.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: str):
    """Queue a delivery again now, with the same event id and body."""
    find_webhook(webhook_id)
    delivery = (
        get_store().redeliver(webhook_id, int(delivery_id))
        if delivery_id.isascii() and delivery_id.isdigit() and len(delivery_id) < 18
        else None
    )
    if delivery is None:
        raise ApiError(404, "not_found", f"No delivery {delivery_id} for webhook '{webhook_id}'.")
    return jsonify(delivery), 202
