"""Opentrack: honest email open tracking.

``create_app`` is the one place that assembles an app: settings, the store, the recording
path, then the security headers, the fast paths, the API, the dashboard and the commands.
"""

import atexit
import fcntl
import os
import time

from flask import Flask

from app.core.injection import Signers
from app.core.tokens import click_serializer, new_secret, optout_serializer, pixel_serializer
from app.services import Opentrack
from app.settings import coerce, defaults
from app.store import Store, is_server_database


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure an Opentrack app."""
    from app import api, cli, dashboard, security, tracking

    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "OPENTRACK_INSTANCE_PATH"
    )
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=template_folder(),
    )
    configure(app, test_config)
    store = Store(app.config["DATABASE"])
    migrate(store, app.instance_path)
    recorder = tracking.make_recorder(app.config, app.instance_path, store)
    atexit.register(recorder.stop)
    keys = app.config["SECRET_KEYS"]
    signers = Signers(pixel_serializer(keys), optout_serializer(keys), click_serializer(keys))
    app.extensions["opentrack"] = Opentrack(store=store, recorder=recorder, signers=signers)
    security.init_app(app)
    tracking.init_app(app)
    api.init_app(app)
    dashboard.init_app(app)
    cli.init_app(app)
    return app


def template_folder() -> str:
    """Return the templates folder: the package's own in a wheel, templates/ in a checkout."""
    packaged = os.path.join(os.path.dirname(__file__), "templates")
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")


def configure(app: Flask, test_config: dict | None) -> None:
    """Read settings: defaults, then OPENTRACK_* variables, then the test dict; derive the rest."""
    app.config.from_mapping(defaults())
    app.config.from_prefixed_env("OPENTRACK")
    if test_config:
        app.config.from_mapping(test_config)
    coerce(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    config = app.config
    config["DATABASE"] = config["DATABASE"] or os.path.join(app.instance_path, "opentrack.db")
    shared = is_server_database(config["DATABASE"])
    if shared and not config["SECRET_KEYS"]:
        # Each host would generate a secret of its own, and a token minted on one would be a
        # bad token on the others, silently.
        raise ValueError(
            "OPENTRACK_SECRET_KEYS is required with a PostgreSQL database: set the same "
            "comma-separated secrets on every instance"
        )
    config["SECRET_KEYS"] = secret_keys(config["SECRET_KEYS"], app.instance_path)
    config["SPOOL_DIR"] = config["SPOOL_DIR"] or (
        os.path.join(app.instance_path, "spool") if shared else config["DATABASE"] + "-spool"
    )
    config["SECRET_KEY"] = config["SECRET_KEYS"][-1]
    config["MAX_CONTENT_LENGTH"] = int(config["MAX_REQUEST_BYTES"])


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
