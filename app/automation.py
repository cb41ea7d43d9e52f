"""Register follow-up automation on an app: the webhook and follow-up APIs, the worker command.

Click URLs are served by ``clicks.ClickMiddleware``, wrapped in ``create_app`` next to the
pixel so that a trusted proxy's client IP reaches both.
"""

from flask import Flask

from app import worker
from app.api import followups as api_followups
from app.api import webhooks as api_webhooks


def init_app(app: Flask) -> None:
    """Register the webhook and follow-up API blueprints and `opentrack worker`."""
    app.register_blueprint(api_webhooks.bp)
    app.register_blueprint(api_followups.bp)
    app.cli.add_command(worker.worker_command)
