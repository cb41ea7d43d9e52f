"""The web dashboard: campaigns, recipients, messages and API keys behind a sign-in.

``init_app(app)`` registers the blueprint, the ``opentrack users`` commands, the session
cookie settings and the template helpers; calling it twice changes nothing.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface

from app.cli import users as users_cli  # noqa: F401
from app.dashboard import auth, base, campaigns, filters, keys, messages  # noqa: F401
from app.store.reports import Reports
from app.store.users import Users

SESSION_DAYS = 7


@dataclass
class Dashboard:
    """The dashboard's own store helpers, shared by its views within one process."""

    reports: Reports
    users: Users


class DashboardSessions(SecureCookieSessionInterface):
    """Signed cookie sessions, marked Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return whether the session cookie may travel only over https."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(app: Flask) -> None:
    """Register the dashboard on an app."""
    if "dashboard" in app.blueprints:
        return
    store = app.extensions["opentrack"].store
    app.extensions["opentrack_dashboard"] = Dashboard(Reports(store), Users(store))
    app.config.update(
        SESSION_COOKIE_NAME="opentrack_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS),
        # The newest secret signs sessions; older ones still verify until they are removed.
        SECRET_KEY_FALLBACKS=list(app.config["SECRET_KEYS"][:-1]),
    )
    app.session_interface = DashboardSessions()
    app.jinja_env.globals.update(csrf_token=base.csrf_token, csp_nonce=base.csp_nonce)
    filters.register(app)
    app.register_blueprint(base.bp)
    from app.dashboard.automation import bp as automation_bp

    app.register_blueprint(automation_bp)
    app.cli.add_command(users_cli.users)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "home", lambda: redirect(url_for("dashboard.campaigns")))
