"""Opentrack: honest email open tracking."""

import atexit
import fcntl
import os
import time
from dataclasses import dataclass

from flask import Flask
from itsdangerous import URLSafeSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core.tokens import click_serializer, new_secret, optout_serializer, pixel_serializer
from app.settings import coerce, defaults
from app.store.sqlite import Store
from app.tracking.recorder import Recorder


@dataclass
class Opentrack:
    """What the views and commands share within one process."""

    store: Store
    serializer: URLSafeSerializer
    recorder: Recorder
    optout_serializer: URLSafeSerializer
    click_serializer: URLSafeSerializer


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure an Opentrack app."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "OPENTRACK_INSTANCE_PATH"
    )
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder="../templates",
    )
    app.config.from_mapping(defaults())
    app.config.from_prefixed_env("OPENTRACK")
    if test_config:
        app.config.from_mapping(test_config)
    coerce(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    config = app.config
    config["DATABASE"] = config["DATABASE"] or os.path.join(app.instance_path, "opentrack.db")
    config["SECRET_KEYS"] = secret_keys(config["SECRET_KEYS"], app.instance_path)
    config["SECRET_KEY"] = config["SECRET_KEYS"][-1]
    config["MAX_CONTENT_LENGTH"] = int(config["MAX_REQUEST_BYTES"])

    store = Store(config["DATABASE"])
    migrate(store, app.instance_path)
    recorder = make_recorder(app, store)
    atexit.register(recorder.stop)
    app.extensions["opentrack"] = Opentrack(
        store=store,
        serializer=pixel_serializer(config["SECRET_KEYS"]),
        recorder=recorder,
        optout_serializer=optout_serializer(config["SECRET_KEYS"]),
        click_serializer=click_serializer(config["SECRET_KEYS"]),
    )
    mount_fast_paths(app)
    register_views_and_commands(app)
    return app


def make_recorder(app: Flask, store: Store) -> Recorder:
    """Return this process's recorder, which classifies and stores spooled fetches."""
    from app.cli import classify as classify_cli
    from app.tracking import opens
    from app.tracking.clicks import record_clicks, split_lines

    config = app.config
    bursts = opens.BurstTracker()
    privacy = opens.StoragePolicy(
        ip=str(config["STORE_IP"]), user_agent=str(config["STORE_USER_AGENT"])
    )

    def store_batch(lines: list[list]) -> None:
        networks = classify_cli.networks_for(app.instance_path, config)
        window = float(config["SCANNER_WINDOW_SECONDS"])
        fetches, click_lines = split_lines(lines)
        opens.record_fetches(store, fetches, networks, window, bursts, privacy)
        record_clicks(store, click_lines, networks, window, privacy)

    def store_counts(counts: dict[str, int]) -> None:
        for name, amount in counts.items():
            store.add_metric(name, amount)

    return Recorder(
        config["DATABASE"] + "-spool", store_batch, store_counts, float(config["FLUSH_SECONDS"])
    )


def mount_fast_paths(app: Flask) -> None:
    """Answer pixels and clicks in front of Flask; trust proxies only as configured."""
    from app.tracking.clicks import ClickMiddleware
    from app.tracking.pixel import PixelMiddleware

    opentrack = app.extensions["opentrack"]
    honor_gpc = bool(app.config["HONOR_GPC"])
    app.wsgi_app = PixelMiddleware(
        app.wsgi_app, opentrack.serializer, opentrack.recorder, honor_gpc=honor_gpc
    )
    app.wsgi_app = ClickMiddleware(
        app.wsgi_app,
        opentrack.click_serializer,
        opentrack.recorder,
        opentrack.store,
        honor_gpc=honor_gpc,
    )
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:
        # x_proto too, so that a session cookie behind a TLS proxy is marked Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_views_and_commands(app: Flask) -> None:
    """Register the API, the dashboard, the public pages and the CLI commands."""
    from app import dashboard
    from app.api import campaigns as api
    from app.api import errors
    from app.api import privacy as api_privacy
    from app.automation import init_app as init_automation
    from app.cli import commands as cli
    from app.cli import privacy as cli_privacy
    from app.tracking import optout as privacy_views
    from app.tracking.pixel import GIF, GIF_HEADERS

    errors.init_app(app)
    dashboard.init_app(app)

    @app.get("/bare.gif")
    def bare_gif():
        """Return the pixel's GIF from a plain Flask route: the benchmarks' baseline."""
        return GIF, 200, GIF_HEADERS

    app.register_blueprint(api.bp)
    app.register_blueprint(api_privacy.bp)
    app.register_blueprint(privacy_views.bp)
    cli.init_app(app)
    cli_privacy.init_app(app)
    init_automation(app)


def secret_keys(configured, instance_path: str) -> list[str]:
    """Return the signing secrets: configured ones, or one generated once in the instance."""
    if isinstance(configured, str):
        configured = [key.strip() for key in configured.split(",") if key.strip()]
    if configured:
        return list(configured)
    path = os.path.join(instance_path, "secret_keys")
    try:
        # O_EXCL: when several workers start at once, exactly one writes the secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as file:
            file.write(new_secret() + "\n")
    for _ in range(50):
        with open(path) as file:
            keys = [line.strip() for line in file if line.strip()]
        if keys:
            return keys
        # Another worker created the file a moment ago and is still writing it.
        time.sleep(0.05)
    raise RuntimeError(f"{path} holds no secret key")


def migrate(store: Store, instance_path: str) -> None:
    """Apply schema migrations, one process at a time."""
    with open(os.path.join(instance_path, ".migrate.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store.migrate()
