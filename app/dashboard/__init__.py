"""The web dashboard: campaigns, recipients, messages, API keys, webhooks and follow-ups.

``init_app(app)`` registers the blueprint, the session cookie settings and the template
helpers; calling it twice changes nothing.
"""

from datetime import timedelta

from flask import Flask, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface

from app.dashboard import (  # noqa: F401
    auth,
    automations,
    base,
    campaigns,
    charts,
    compare,
    conversions,
    exports,
    filters,
    followups,
    keys,
    lifecycle,
    messages,
    recipients,
    webhooks,
)
from app.dashboard.base import SESSION_DAYS


class DashboardSessions(SecureCookieSessionInterface):
    """Signed cookie sessions, marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return whether the session cookie may travel only over https."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(app: Flask) -> None:
    """Register the dashboard on an app."""
    if "dashboard" in app.blueprints:
        return
    if charts.zone(app.config["DASHBOARD_TIME_ZONE"]) is None:
        raise ValueError(
            f"DASHBOARD_TIME_ZONE is {app.config['DASHBOARD_TIME_ZONE']!r}, not an IANA time zone "
            "such as UTC or Europe/Berlin"
        )
    app.config.update(
        SESSION_COOKIE_NAME="opentrack_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS),
        # The newest secret signs sessions; older ones still verify until they are removed.
        SECRET_KEY_FALLBACKS=list(app.config["SECRET_KEYS"][:-1]),
    )
    app.session_interface = DashboardSessions()
    app.jinja_env.globals.update(csrf_token=base.csrf_token)
    filters.register(app)
    app.register_blueprint(base.bp)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "home", lambda: redirect(url_for("dashboard.campaigns")))
