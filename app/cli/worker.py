"""The `opentrack worker` command: the delivery worker as a long-running process."""

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.automations import ListLinks
from app.core.tokens import list_serializer
from app.services import store
from app.worker import DeliveryWorker


def list_links(config) -> ListLinks:
    """Return the signer of follow-up list download addresses, as the settings say."""
    return ListLinks(
        list_serializer(config["SECRET_KEYS"]),
        config["BASE_URL"],
        float(config["FOLLOW_UP_LIST_HOURS"]),
    )


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one round and exit (for cron or tests).")
@with_appcontext
def worker_command(once: bool) -> None:
    """Send webhook deliveries, settle clicks and fire follow-up rules until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = current_app.config
    worker = DeliveryWorker(
        store(),
        timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
        allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE"]),
        retry_hours=float(config["WEBHOOK_RETRY_HOURS"]),
        retention_days=config["RETENTION_DAYS"],
        list_links=list_links(config),
    )
    if once:
        worker.run_once()
        worker.pool.shutdown()
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Opentrack worker {worker.owner} started", err=True)
    worker.run(stop)
    click.echo("Opentrack worker stopped", err=True)
