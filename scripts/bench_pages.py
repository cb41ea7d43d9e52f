"""Time every dashboard page of a seeded instance as a user gets it, and the store's share.

    .venv/bin/python scripts/seed_demo.py --instance DIR --messages N --opens 3N --seed-only
    .venv/bin/python scripts/bench_pages.py --instance DIR [--runs 5] [--no-http]

Each page is asked for ``--runs`` times (after one warm-up) and the median is printed:

- ``http``: the whole request over loopback to real gunicorn as the Procfile starts it (one
  worker), signed in as the demo user; downloads are timed to their first 64 KiB.
- ``in-process``: the same request through Flask's test client in this process.
- ``store``: the part of the in-process time spent in the store's SQL (every
  ``execute``, ``executemany`` and streamed fetch of the database the app uses).

The target the dashboard holds itself to is 200 ms a page at 1,000,000 messages; pages over it
are marked. With ``OPENTRACK_DATABASE=postgresql://...`` the instance's data is read from that
server instead (seed it with the same variable set).
"""

import argparse
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import BIN, ROOT, free_port, print_table, procfile_command  # noqa: E402
from seed_demo import DEMO_EMAIL, DEMO_PASSWORD, make_app, signed_in_client  # noqa: E402

CAMPAIGN = "big-launch"
TARGET_MS = 200
# How much of a download is read: what a browser has when the save dialog opens.
FIRST_BYTES = 64 * 1024
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next"')


class StoreTimer:
    """Add up the time the store's database spends, by wrapping its methods in place."""

    def __init__(self, db):
        self.seconds = 0.0
        for name in ("execute", "executemany"):
            setattr(db, name, self._timed(getattr(db, name)))
        db.stream = self._timed_stream(db.stream)

    def _timed(self, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = method(*args, **kwargs)
                if isinstance(result, sqlite3.Cursor):
                    # SQLite hands rows over as the caller reads them: read them here, inside
                    # the timer (PostgreSQL's results arrive fetched).
                    result = Rows(result)
                return result
            finally:
                self.seconds += time.perf_counter() - started

        return timed

    def _timed_stream(self, method):
        def timed(*args, **kwargs):
            rows = method(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    row = next(rows)
                except StopIteration:
                    return
                finally:
                    self.seconds += time.perf_counter() - started
                yield row

        return timed


class Rows:
    """A cursor's rows read at once, offered as the cursor offered them."""

    def __init__(self, cursor):
        self.rowcount = cursor.rowcount
        self.description = cursor.description
        self.lastrowid = getattr(cursor, "lastrowid", None)
        self.rows = cursor.fetchall() if cursor.description is not None else []

    def fetchone(self):
        return self.rows.pop(0) if self.rows else None

    def fetchall(self):
        rows, self.rows = self.rows, []
        return rows

    def fetchmany(self, size=1):
        rows, self.rows = self.rows[:size], self.rows[size:]
        return rows

    def __iter__(self):
        return iter(self.fetchall())

    def close(self):
        self.rows = []


def pages(app, client) -> list[tuple[str, str, bool]]:
    """Return (label, path, is a download) of every page to time, found on the seeded data."""
    store = app.extensions["opentrack"].store
    big = store.get_campaign(CAMPAIGN)
    sent = big["sent"]
    campaign = f"/dashboard/campaigns/{CAMPAIGN}"
    follow_up = f"{CAMPAIGN}-resend"
    message_id = store.recipients(CAMPAIGN, "opened", limit=1)[0]["id"]
    full = "reader000001@example.com"
    middle = (sent // 50 + 1) // 2
    # The next page as a user reaches it: the middle page's "Next" link.
    html = client.get(f"{campaign}?page={middle}").get_data(as_text=True)
    found = NEXT_LINK.search(html)
    following = found.group(1).replace("&amp;", "&") if found else f"{campaign}?page={middle + 1}"
    webhook = (store.list_webhooks() or [{"id": None}])[0]["id"]
    listed = [
        ("campaign list", "/dashboard/campaigns", False),
        ("campaign list, page 2", "/dashboard/campaigns?page=2", False),
        ("campaign list by human open rate", "/dashboard/campaigns?sort=human_open_rate", False),
        ("campaign list, date filter", "/dashboard/campaigns?from=2020-01-01&to=2100-01-01", False),
        ("campaign list with archived", "/dashboard/campaigns?archived=1", False),
        (
            "compare 3 campaigns",
            f"/dashboard/compare?id={CAMPAIGN}&id={follow_up}&id=issue-001",
            False,
        ),
        ("campaign page (first 50 recipients)", campaign, False),
        ("campaign page, by hour, Europe/Berlin", f"{campaign}?by=hour&tz=Europe/Berlin", False),
        ("campaign page, all fetches", f"{campaign}?breakdown=fetches", False),
        ("recipients page 2", f"{campaign}?page=2", False),
        ("recipients middle page (typed ?page=)", f"{campaign}?page={middle}", False),
        ("recipients, the middle page's Next", following, False),
        ("recipients last page", f"{campaign}?page={sent // 50 + 1}", False),
        ("opened, middle page", f"{campaign}?state=opened&page={big['opened'] // 100 + 1}", False),
        ("unknown, page 2", f"{campaign}?state=unknown&page=2", False),
        ("not opened, last page", f"{campaign}?state=not_opened&page=1000000", False),
        ("search 1 letter (r)", f"{campaign}?q=r", False),
        ("search 1 letter, page 3", f"{campaign}?q=r&page=3", False),
        ("search prefix (reader05)", f"{campaign}?q=reader05", False),
        ("search full address", f"{campaign}?q={quote(full)}", False),
        ("search with no match", f"{campaign}?q=nobody", False),
        ("search r, opened only", f"{campaign}?q=r&state=opened", False),
        ("message page", f"/dashboard/messages/{message_id}", False),
        ("follow-up report", f"/dashboard/campaigns/{follow_up}/follow-up", False),
        ("follow-up's campaign page", f"/dashboard/campaigns/{follow_up}", False),
        ("recipients (engagement) page", "/dashboard/recipients", False),
        ("recipients page, one address", f"/dashboard/recipients?address={quote(full)}", False),
        ("API keys", "/dashboard/keys", False),
        ("webhooks", "/dashboard/webhooks", False),
        ("export: recipients.csv", f"{campaign}/recipients.csv", True),
        ("export: recipients.csv, q=reader05", f"{campaign}/recipients.csv?q=reader05", True),
        ("export: openers.csv", f"{campaign}/openers.csv", True),
        ("export: clickers.csv", f"{campaign}/clickers.csv", True),
        ("export: non-openers.csv", f"{campaign}/non-openers.csv?include_unknown=1", True),
        (
            "export: follow-up recipients",
            f"/dashboard/campaigns/{follow_up}/follow-up-recipients.csv",
            True,
        ),
        (
            "export: inactive, last 3 campaigns",
            "/dashboard/recipients/inactive.csv?campaigns=3",
            True,
        ),
    ]
    if webhook:
        listed.insert(-8, ("one webhook", f"/dashboard/webhooks/{webhook}", False))
    return listed


def read_in_process(client, path: str, download: bool) -> int:
    """Ask for a page through the test client; return its status."""
    response = client.get(path, buffered=False)
    if download:
        size = 0
        for chunk in response.response:
            size += len(chunk)
            if size >= FIRST_BYTES:
                break
    else:
        response.get_data()
    response.close()
    return response.status_code


def read_http(session: requests.Session, url: str, download: bool) -> int:
    """Ask for a page over HTTP; return its status."""
    with session.get(url, stream=True, allow_redirects=False, timeout=600) as response:
        if download:
            size = 0
            for chunk in response.iter_content(16 * 1024):
                size += len(chunk)
                if size >= FIRST_BYTES:
                    break
        else:
            response.content  # noqa: B018
        return response.status_code


def median_ms(run, runs: int) -> float:
    """Return the median of ``runs`` timings of ``run`` (after one warm-up), in ms."""
    run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def start_gunicorn(instance: str) -> tuple[subprocess.Popen, str]:
    """Start gunicorn (one worker) on the instance; return the process and its origin."""
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "OPENTRACK_INSTANCE_PATH": instance,
    }
    log = open(Path(instance) / "bench-gunicorn.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        procfile_command(port, 1),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    origin = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(origin + "/ping.gif", timeout=2).status_code == 200:
                return process, origin
        except requests.RequestException:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"gunicorn did not start; see {log.name}")


def http_session(origin: str) -> requests.Session:
    """Return a session signed in to the dashboard over HTTP."""
    session = requests.Session()
    page = session.get(origin + "/dashboard/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token}
    response = session.post(origin + "/dashboard/login", data=form, allow_redirects=False)
    if response.status_code != 302:
        raise SystemExit(f"signing in over HTTP answered {response.status_code}")
    return session


def main() -> None:
    """Time the pages and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", required=True, help="an instance seeded by seed_demo.py")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn column")
    parser.add_argument("--only", help="time only the pages whose label contains this text")
    args = parser.parse_args()
    os.environ.setdefault("OPENTRACK_INSTANCE_PATH", args.instance)
    app = make_app(args.instance)
    store = app.extensions["opentrack"].store
    if store.get_campaign(CAMPAIGN) is None:
        raise SystemExit(f"{args.instance} has no campaign {CAMPAIGN}: seed it with seed_demo.py")
    client = signed_in_client(app)
    listed = pages(app, client)
    if args.only:
        listed = [page for page in listed if args.only in page[0]]
    timer = StoreTimer(store.db)
    server = session = None
    if not args.no_http:
        server, origin = start_gunicorn(args.instance)
        session = http_session(origin)
    rows = []
    try:
        for label, path, download in listed:
            status = read_in_process(client, path, download)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
            store_times = []

            def in_process(path=path, download=download, store_times=store_times):
                before = timer.seconds
                read_in_process(client, path, download)
                store_times.append((timer.seconds - before) * 1000)

            local = median_ms(in_process, args.runs)
            store_ms = statistics.median(store_times[1:])
            http = None
            if session is not None:
                http = median_ms(
                    lambda p=path, d=download: read_http(session, origin + p, d), args.runs
                )
            slowest = max(local, http or 0)
            rows.append(
                [
                    label + (" **over 200 ms**" if slowest > TARGET_MS else ""),
                    "–" if http is None else f"{http:,.1f}",
                    f"{local:,.1f}",
                    f"{store_ms:,.1f}",
                ]
            )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        app.extensions["opentrack"].recorder.stop()
    big = store.get_campaign(CAMPAIGN)
    engine = store.db.engine
    print(f"{engine}, {big['sent']:,} messages in {CAMPAIGN}, median of {args.runs} (ms):")
    print_table(["page", "http (gunicorn)", "in-process", "store"], rows)


if __name__ == "__main__":
    main()
