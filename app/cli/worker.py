"""The `opentrack worker` command: the delivery worker as a long-running process."""

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app.core.automations import list_links
from app.services import store
from app.worker import DeliveryWorker


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
