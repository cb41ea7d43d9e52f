"""The `opentrack ingest` command: the host's single writer of its spool folder."""

import gc
import logging
import os
import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext

from app.rules.classify import warm_up
from app.rules.networks import networks_for
from app.services import current
from app.tracking import make_writer
from app.tracking.ingest import Ingester, drain_once


@click.command("ingest")
@click.option(
    "--once",
    is_flag=True,
    help="Store what the spools hold now and exit (waits up to --wait for the lease).",
)
@click.option("--wait", default=10.0, show_default=True, help="Seconds --once waits for the lease.")
@with_appcontext
def ingest_command(once: bool, wait: float) -> None:
    """Store every spool of this instance's spool folder until stopped (SIGTERM or Ctrl-C)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = current_app.config
    writer = make_writer(config, current_app.instance_path, current().store)
    # The classifier's one-time work (ua-parser's resolver, the geo data) before the first batch.
    warm_up(networks_for(current_app.instance_path, config))
    ingester = Ingester(config["SPOOL_DIR"], writer.store_batch)
    stop = threading.Event()
    if once:
        try:
            stored = drain_once(ingester, stop, wait)
        except TimeoutError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"stored {stored} spooled fetches", err=True)
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    lower_priority(config["INGEST_NICE"])
    # As in `opentrack classify`: a batch allocates many short-lived containers and leaves few
    # cycles, so young-generation passes every 700 allocations are mostly wasted (about 3 µs
    # of a stored fetch's CPU at the default threshold, measured with scripts/bench_writer.py).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    click.echo(f"Opentrack ingest waiting for the lease of {config['SPOOL_DIR']}", err=True)
    ingester.run(stop, ready=lambda: click.echo("Opentrack ingest holds the lease", err=True))
    click.echo(f"Opentrack ingest stopped ({ingester.stored} lines stored)", err=True)


def lower_priority(increment: int) -> None:
    """Lower this process's CPU priority by increment (as `nice`), when it is above 0.

    While every core is busy, the kernel then runs the web workers first: the pixel answers at
    the speed it has without recording, and the fetches wait in their spools (on disk, in
    order) until the ingester gets the CPU the workers leave, in larger and so cheaper
    batches. Past 19, the kernel's lowest priority, is refused when the settings are read.
    """
    if increment > 0:
        os.nice(increment)
