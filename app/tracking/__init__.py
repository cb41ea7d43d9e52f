"""The public fast paths and their recording: pixel, click redirect, opt-out page, spool, writer.

``init_app`` mounts the pixel and click paths in front of Flask (so a request for them costs a
token check and one append), the opt-out page, and the plain Flask GIF route the benchmarks
measure the pixel against.
"""

import os
from collections.abc import Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core.attribution import LandingTagger, attribution_serializer
from app.rules.networks import networks_for
from app.rules.storage import StoragePolicy
from app.store import Store
from app.tracking import optout
from app.tracking.clicks import ClickMiddleware
from app.tracking.conversions import ConversionMiddleware
from app.tracking.pixel import GIF, GIF_HEADERS, PixelMiddleware
from app.tracking.recorder import Recorder
from app.tracking.writer import Writer


def make_writer(config: Mapping, instance_path: str, store: Store) -> Writer:
    """Return a writer that classifies and stores spooled lines with the app's settings."""
    return Writer(
        store,
        networks=lambda: networks_for(instance_path, config),
        scanner_window_seconds=lambda: float(config["SCANNER_WINDOW_SECONDS"]),
        policy=StoragePolicy(
            ip=str(config["STORE_IP"]), user_agent=str(config["STORE_USER_AGENT"])
        ),
    )


def make_recorder(config: Mapping, instance_path: str, store: Store) -> Recorder:
    """Return this process's recorder, whose writer classifies and stores spooled fetches."""
    writer = make_writer(config, instance_path, store)
    return Recorder(
        config["SPOOL_DIR"],
        writer.store_batch,
        writer.store_counts,
        float(config["FLUSH_SECONDS"]),
    )


def init_app(app: Flask) -> None:
    """Mount the fast paths in front of Flask, the opt-out page and the baseline route."""
    opentrack = app.extensions["opentrack"]
    honor_gpc = bool(app.config["HONOR_GPC"])
    app.wsgi_app = PixelMiddleware(
        app.wsgi_app, opentrack.signers.pixel, opentrack.recorder, honor_gpc=honor_gpc
    )
    ot_signer = attribution_serializer(opentrack.signers.click.secret_keys)
    app.wsgi_app = ClickMiddleware(
        app.wsgi_app,
        opentrack.signers.click,
        opentrack.recorder,
        opentrack.store,
        honor_gpc=honor_gpc,
        tag_landing=LandingTagger(ot_signer, opentrack.store.attribution_message, honor_gpc).tag,
    )
    app.wsgi_app = ConversionMiddleware(
        app.wsgi_app, opentrack.store, ot_signer, opentrack.recorder, honor_gpc=honor_gpc
    )
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:
        # x_proto too, so that a session cookie behind a TLS proxy is marked Secure.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    app.register_blueprint(optout.bp)
    app.add_url_rule("/bare.gif", "bare_gif", bare_gif)
    if served_by_gunicorn():
        # At once, not at the first fetch: with no ingester running, the spools a killed
        # server left behind are stored within seconds of a restart even with no traffic.
        opentrack.recorder.start()


def served_by_gunicorn() -> bool:
    """Return whether this process is a gunicorn worker (its arbiter sets SERVER_SOFTWARE)."""
    return os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/")


def bare_gif():
    """Return the pixel's GIF from a plain Flask route: the benchmarks' baseline."""
    return GIF, 200, GIF_HEADERS
