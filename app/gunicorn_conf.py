"""Gunicorn settings for Opentrack's web server, read with ``-c python:app.gunicorn_conf``.

The Procfile's ``web:`` line and ``./scripts/serve`` start gunicorn with this module; the
command line still says the workers and the address. Three things are set here:

- Request limits that admit any real request, and stay bounded: a pixel URL a proxy or
  mail client padded to 8,000 bytes and a 16 KB header (a user agent grown by extensions)
  reach the app, which answers the GIF, rather than gunicorn answering 414 or 431.
- The geo data is loaded once, in the master, before any worker is forked, so the workers
  share its pages instead of each reading ~100 MB and stalling its first open
  (``rules.networks.load_geo``); the classifier's one-time work too (``rules.classify.warm_up``).
- A worker dies with its master: after a kill -9 of the master, each worker is sent SIGTERM
  by the kernel, finishes the request in its hands and exits, so the port is free for the
  next master at once (instead of orphans holding it until they notice, some 15 s later).
"""

import ctypes
import logging
import os
import signal
import sys

# Gunicorn's largest request line: any value above 8190 is cut to it, and 0 means no bound at
# all. 8190 holds an 8,000-byte URL with its method and protocol.
limit_request_line = 8190
# One header line of up to 32 KiB: twice the 16 KB the largest real headers reach (proxies
# such as Cloudflare refuse a single header above 16 KB). Bounded: 0 would mean unlimited.
limit_request_field_size = 32768
# Real requests carry a few dozen headers; gunicorn's default of 100 is kept, said here.
limit_request_fields = 100

log = logging.getLogger("gunicorn.error")

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def on_starting(server) -> None:
    """Load the geo data and warm the classifier in the master, before the workers are forked,
    so they share both (each worker's writer thread classifies what its worker spools while no
    ingester runs)."""
    from app.rules.classify import warm_up
    from app.rules.networks import load_geo

    seconds = load_geo(os.environ.get("OPENTRACK_GEOIP_MMDB", ""))
    server.log.info("geo data loaded in the master in %.2f s, shared by the workers", seconds)
    seconds = warm_up()
    server.log.info("classifier warmed in the master in %.2f s, shared by the workers", seconds)


def die_with_master(master_pid: int) -> bool:
    """Ask the kernel to send this process SIGTERM when its parent dies; return False when the
    parent is already gone (or was before we asked)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    # A master that died before the call above sends no signal: the parent id tells.
    return os.getppid() == master_pid


def post_worker_init(worker) -> None:
    """Make the worker stop gracefully when the master dies, however it dies."""
    if not die_with_master(worker.ppid):
        log.warning("master %s is gone; worker %s stops", worker.ppid, worker.pid)
        worker.alive = False
