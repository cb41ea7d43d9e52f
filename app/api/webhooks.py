"""The webhooks API: register, list, remove endpoints, see their deliveries, redeliver."""

from typing import Annotated, Any, ClassVar, Literal

from flask import current_app, jsonify
from pydantic import ConfigDict, Field

from app.api.base import bp, not_found
from app.api.errors import ApiError
from app.api.schemas import Answer, Body, Query, Switch, choice_arg, contract, integer_arg, rule
from app.core import fields, webhooks
from app.services import store

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def url_rule(value: Any) -> str:
    """Return a webhook URL that is well formed (its address is checked by the view)."""
    problem = webhooks.url_problem(value)
    if problem:
        raise fields.FieldError("", problem)
    return value


class NewWebhook(Body):
    """An endpoint to register: its URL, the events it wants, whether machine opens count."""

    noun: ClassVar[str] = "a webhook"
    url: rule(url_rule, {"type": "string", "format": "uri"})
    events: Annotated[list[Literal[webhooks.EVENT_TYPES]], Field(min_length=1)] = None
    include_machine: Switch = None
    description: rule(
        lambda v: None if v is None else fields.text(v, "", fields.MAX_DESCRIPTION),
        {"type": ["string", "null"], "maxLength": fields.MAX_DESCRIPTION},
    ) = None


class DeliveryCounts(Answer):
    model_config = ConfigDict(extra="allow")
    pending: int
    delivered: int
    failed: int


class Webhook(Answer):
    id: str
    url: str
    events: list[str]
    include_machine: bool
    description: str | None
    created_at: str
    deliveries: DeliveryCounts


class NewWebhookAnswer(Webhook):
    """The endpoint registered, with its signing secret: shown this once."""

    secret: str


class Delivery(Answer):
    """One delivery of an event to an endpoint, with its payload and its last attempt."""

    model_config = ConfigDict(extra="allow")
    id: int
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    payload: dict[str, Any]


class WebhookDetail(Webhook):
    recent_deliveries: list[Delivery]
    recent_failures: list[Delivery]


class WebhookList(Answer):
    webhooks: list[Webhook]


class DeliveryList(Answer):
    webhook_id: str
    deliveries: list[Delivery]


class DeliveryQuery(Query):
    status: choice_arg(*DELIVERY_STATUSES) = None
    limit: integer_arg(1, 1000) = 50


def find_webhook(webhook_id: str) -> dict:
    """Return an endpoint or raise a 404 naming it."""
    webhook = store().get_webhook(webhook_id)
    if webhook is None:
        raise not_found("webhook", webhook_id)
    return webhook


@bp.post("/webhooks")
@contract(
    body=NewWebhook,
    responses={201: NewWebhookAnswer},
    links={
        201: {
            view: {"webhook_id": "$response.body#/id"}
            for view in ("show_webhook", "delete_webhook", "list_deliveries")
        }
    },
)
def create_webhook(body: NewWebhook):
    """Register an endpoint; the answer carries its signing secret, shown this once."""
    # The shared rule again, for what only it checks: where the URL's host resolves to.
    sent = body.model_dump(exclude_none=True)
    parsed = fields.webhook(sent, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    webhook = store().create_webhook(*parsed)
    return jsonify(webhook), 201


@bp.get("/webhooks")
@contract(responses={200: WebhookList})
def list_webhooks():
    """List the registered endpoints with their delivery counts."""
    return jsonify({"webhooks": store().list_webhooks()})


@bp.get("/webhooks/<webhook_id>")
@contract(responses={200: WebhookDetail}, errors=(404,))
def show_webhook(webhook_id: str):
    """Show one endpoint with its most recent deliveries and failures."""
    webhook = find_webhook(webhook_id)
    webhook["recent_deliveries"] = store().list_deliveries(webhook_id, limit=20)
    webhook["recent_failures"] = store().list_deliveries(webhook_id, "failed", limit=20)
    return jsonify(webhook)


@bp.delete("/webhooks/<webhook_id>")
@contract(responses={204: None}, errors=(404,))
def delete_webhook(webhook_id: str):
    """Remove an endpoint; its pending deliveries are cancelled."""
    if not store().delete_webhook(webhook_id):
        raise not_found("webhook", webhook_id)
    return "", 204


@bp.get("/webhooks/<webhook_id>/deliveries")
@contract(query=DeliveryQuery, responses={200: DeliveryList}, errors=(404,))
def list_deliveries(webhook_id: str, query: DeliveryQuery):
    """List an endpoint's deliveries, newest first; ``status`` filters, ``limit`` pages."""
    find_webhook(webhook_id)
    deliveries = store().list_deliveries(webhook_id, query.status, query.limit)
    return jsonify({"webhook_id": webhook_id, "deliveries": deliveries})


@bp.post("/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
@contract(responses={202: Delivery}, errors=(404,))
def redeliver(webhook_id: str, delivery_id: str):
    """Queue a delivery again now, with the same event id and body."""
    find_webhook(webhook_id)
    delivery = (
        store().redeliver(webhook_id, int(delivery_id))
        if delivery_id.isascii() and delivery_id.isdigit() and len(delivery_id) < 18
        else None
    )
    if delivery is None:
        raise ApiError(404, "not_found", f"No delivery {delivery_id} for webhook '{webhook_id}'.")
    return jsonify(delivery), 202
