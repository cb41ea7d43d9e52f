"""The JSON API under /api/v1: one blueprint, one module per resource, JSON errors."""

from flask import Flask

from app.api import (  # noqa: F401  (each module adds its routes to bp)
    automations,
    campaigns,
    conversions,
    delivery,
    errors,
    followups,
    inject,
    messages,
    openapi,
    privacy,
    recipients,
    webhooks,
)
from app.api.base import bp


def init_app(app: Flask) -> None:
    """Register the API blueprint and its JSON error answers."""
    errors.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(automations.lists)
    # The ESPs' own routes, signed by each provider instead of our API key.
    app.register_blueprint(delivery.hooks)
