"""Past one machine: two app instances on one PostgreSQL, a kill -9 and a database restart.

Two gunicorn instances started by the Procfile's web line (own spool folders, the same
secrets), one `opentrack worker`, a webhook receiver. Messages are injected through A; pixels
are fetched through both under load while A is killed outright and PostgreSQL is stopped for
seconds and started again; then A is restarted. Nothing answered is lost, nothing is stored
twice, the counters equal a rebuild from the raw events, and every human open reached the
receiver under one event id.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from gunicorn_server import ROOT, Server, procfile_command, wait_for
from webhook_receiver import Receiver

from app.core.stats import campaign_summary
from app.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]
MESSAGES = 200
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


def pg(action: str, folder: Path) -> str:
    """Run scripts/pg (start prints the server's URL)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "pg"), action, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def database():
    """A PostgreSQL server of this test's own, which it may stop and start again."""
    # Not under pytest's tmp_path: the server's unprivileged user could not reach it there.
    folder = Path(tempfile.mkdtemp(prefix="opentrack-pg-"))
    url = pg("start", folder)
    yield folder, url
    pg("stop", folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_two_instances_a_kill_and_a_database_restart_lose_nothing(tmp_path, database):
    folder, url = database
    env = {
        "OPENTRACK_DATABASE": url,
        "OPENTRACK_SECRET_KEYS": "shared-secret-one,shared-secret-two",
        "OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    servers = {
        name: Server(
            tmp_path / name, {**env, "OPENTRACK_SPOOL_DIR": str(tmp_path / f"{name}-spool")}
        )
        for name in ("a", "b")
    }
    receiver = Receiver()
    worker = None
    try:
        a, b = servers["a"], servers["b"]
        key = a.cli("keys", "create", "multi").stdout.strip()
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        hook = http.post(
            a.url + "/api/v1/webhooks", json={"url": receiver.url, "events": ["open"]}
        ).json()
        http.post(a.url + "/api/v1/campaigns", json={"id": "fleet"})
        messages = http.post(
            a.url + "/api/v1/campaigns/fleet/inject",
            json={"html": "<body></body>", "recipients": [f"r{n}@x.org" for n in range(MESSAGES)]},
        ).json()["messages"]
        tokens = [m["pixel_url"].split("/o/")[1] for m in messages]
        worker = subprocess.Popen(
            procfile_command("worker", a.port),
            env=a.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        answered = []
        lock = threading.Lock()
        stop = threading.Event()

        def load(index: int) -> None:
            # A token minted by A, fetched from A or B: either instance records it.
            with requests.Session() as session:
                n = index
                while not stop.is_set():
                    server = servers["a" if n % 2 else "b"]
                    token = tokens[n % MESSAGES]
                    n += 7
                    try:
                        response = session.get(
                            f"{server.url}/o/{token}", headers={"User-Agent": IPHONE}, timeout=10
                        )
                    except requests.RequestException:
                        continue  # A is down: the request was never answered
                    if response.status_code == 200:
                        with lock:
                            answered.append(token)

        with ThreadPoolExecutor(16) as pool:
            for index in range(16):
                pool.submit(load, index)
            time.sleep(1.0)
            os.killpg(a.process.pid, signal.SIGKILL)  # A and all its workers, mid-load
            a.process.wait()
            time.sleep(0.5)
            pg("stop", folder)  # the database goes away under load
            time.sleep(3.0)
            assert pg("start", folder) == url  # and comes back, same address
            time.sleep(1.0)
            a.log.close()
            servers["a"] = a = Server(tmp_path / "a", a.env)
            time.sleep(1.0)
            stop.set()

        # A scale-down: B gets SIGTERM and stores its spool before it exits (B's spool is
        # never flushed by anyone else). A's successor replays what its killed workers left.
        b.stop()
        assert b.process.returncode == 0
        assert a.cli("flush").returncode == 0
        store = Store(url)
        try:
            stored = store.count_events("fleet")
            # Requests in A's hands when it was killed may be stored without an answer.
            assert len(answered) <= stored <= len(answered) + 16
            keys = store.db.execute(
                "SELECT count(DISTINCT event_key), count(*) FROM events"
            ).fetchone()
            assert keys[0] == keys[1] == stored
            before = campaign_summary(store.get_campaign("fleet"))
            assert before["total_opens"] == stored
            store.rebuild_counters("fleet")
            assert campaign_summary(store.get_campaign("fleet")) == before
            expected = wait_for(
                lambda: (
                    (c := http.get(f"{a.url}/api/v1/webhooks/{hook['id']}").json()["deliveries"])[
                        "pending"
                    ]
                    == 0
                    and c
                ),
                seconds=60,
            )
            # One delivery per human open (from one network, most fetches are a burst).
            human = store.db.execute(
                "SELECT count(*) FROM events WHERE verdict = 'human'"
            ).fetchone()[0]
            assert human > 0
            assert expected and expected["delivered"] == human and expected["failed"] == 0
        finally:
            store.close()
        bodies = receiver.answered()
        ids = {body["id"] for body in bodies}
        assert len(ids) == human  # one event id per human open, retries repeat it
        assert {body["type"] for body in bodies} == {"open"}
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        for server in servers.values():
            server.stop()
        receiver.close()
