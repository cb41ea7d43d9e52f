"""End to end: real gunicorn, the real `opentrack worker` from the Procfile, a real receiver."""

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from gunicorn_server import Server, procfile_command, wait_for
from webhook_receiver import Receiver

from app.core.webhooks import verify

pytestmark = pytest.mark.slow

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MESSAGES = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {"OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true", "OPENTRACK_SCANNER_WINDOW_SECONDS": "0"}
    server = Server(tmp_path_factory.mktemp("automation") / "instance", env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server):
    key = server.cli("keys", "create", "e2e").stdout.strip()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def start_worker(server) -> subprocess.Popen:
    """Start the Procfile's worker process against the server's instance."""
    return subprocess.Popen(
        procfile_command("worker", server.port),
        env=server.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def get_again_if_cut(url: str) -> tuple[requests.Response, int]:
    """GET a URL as a mail client would, asking again when the connection is cut; return the
    answer and how many times the connection was cut before it.

    The web worker killed mid-burst drops the request it is serving; a client reloads. Only
    the status and headers are read (stream=True): an answer cut in its body was given, and
    asking again would record a second click. A request cut before any answer may have been
    spooled all the same (the worker died between spooling it and answering): asked again,
    it is stored twice, as a person's second click is.
    """
    cuts = 0
    for _ in range(3):
        try:
            response = requests.get(
                url, headers={"User-Agent": IPHONE}, allow_redirects=False, timeout=30, stream=True
            )
        except requests.ConnectionError:
            cuts += 1
            continue
        response.close()
        return response, cuts
    raise AssertionError(f"{url} was never answered")


def spooled_bytes(server) -> int:
    """Return the bytes in the server's spool files: 0 once everything spooled is stored (a
    web worker empties its file once stored; a dead one's file is removed once replayed)."""
    total = 0
    for path in Path(server.env["OPENTRACK_INSTANCE_PATH"]).rglob("*.spool"):
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def test_killing_the_worker_and_a_web_worker_loses_no_delivery(server, http):
    receiver = Receiver(delay=0.03)
    worker = None
    try:
        api = server.url + "/api/v1"
        webhook = http.post(
            api + "/webhooks",
            json={"url": receiver.url, "events": ["open", "first_open", "click"]},
        ).json()
        http.post(api + "/campaigns", json={"id": "burst", "track_clicks": True})
        messages = http.post(
            api + "/campaigns/burst/inject",
            json={
                "html": '<body><a href="https://shop.example/sale">Sale</a></body>',
                "recipients": [f"r{i}@x.org" for i in range(MESSAGES)],
            },
        ).json()["messages"]
        worker = start_worker(server)

        def fetch(message):
            pixel, _ = get_again_if_cut(message["pixel_url"])
            link = message["html"].split('href="')[1].split('"')[0]
            click, cuts = get_again_if_cut(link)
            assert click.headers["Location"] == "https://shop.example/sale"
            return pixel.status_code, click.status_code, cuts

        with ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(fetch, message) for message in messages]
            # Kill a web worker mid-burst: its spool (and the deliveries) must survive.
            time.sleep(0.1)
            os.kill(server.worker_pids()[0], signal.SIGKILL)
            results = [f.result() for f in futures]
        assert all(result[:2] == (200, 302) for result in results)
        # The messages whose click was cut before its answer, and how many times: each may
        # have one more click per cut (spooled by the killed worker, then asked again).
        cut = {m["message_id"]: r[2] for m, r in zip(messages, results, strict=True) if r[2]}

        # Kill the delivery worker outright while it is sending, then start a new one.
        assert wait_for(lambda: len(receiver.requests) >= 10, seconds=30)
        worker.kill()
        worker.wait()
        worker = start_worker(server)

        stats_url = api + "/campaigns/burst/stats"
        seen = {}

        def all_clicks_settled():
            # Everything spooled is stored (the killed worker's file replayed by the others),
            # and every stored click is settled: a click per message, and the second ones of
            # the messages whose click was cut.
            seen["spooled_bytes"] = spooled_bytes(server)
            seen["stats"] = s = http.get(stats_url).json()
            seen["clicks"] = {m: http.get(f"{api}/messages/{m}").json()["clicks"] for m in cut}
            extra = sum(len(clicks) - 1 for clicks in seen["clicks"].values())
            return seen["spooled_bytes"] == 0 and s["clicks"] == MESSAGES + extra and s

        stats = wait_for(all_clicks_settled, seconds=30)
        assert stats, {
            "cut": cut,
            "spooled_bytes": seen["spooled_bytes"],
            "clicks_of_cut": seen["clicks"],
            **{k: seen["stats"][k] for k in ("clicks", "clickers", "opened", "total_opens")},
        }
        assert stats["total_opens"] + stats["human_opens"] >= MESSAGES
        for message in messages:
            clicks = http.get(f"{api}/messages/{message['message_id']}").json()["clicks"]
            assert 1 <= len(clicks) <= 1 + cut.get(message["message_id"], 0)
            assert all(click["settled"] for click in clicks)
        hook_url = f"{api}/webhooks/{webhook['id']}"
        counts = wait_for(
            lambda: (
                (c := http.get(hook_url).json()["deliveries"])["pending"] == 0
                and c["delivered"] > 0
                and c
            ),
            seconds=60,
        )
        assert counts["failed"] == 0
        deliveries = http.get(hook_url + "/deliveries?limit=1000").json()["deliveries"]
        expected = {d["event_id"] for d in deliveries}
        # A click per stored click (one per message, two for some whose click was cut), a
        # first open per opened message (by pixel or click), and an open per human open event:
        # the network's burst makes some pixels machine fetches.
        assert stats["opened"] == MESSAGES
        assert (
            len(expected)
            == counts["delivered"]
            == (stats["clicks"] + MESSAGES + stats["human_opens"])
        )
        answered = receiver.answered()
        received = [body["id"] for body in answered]
        assert set(received) == expected  # nothing lost
        # Anything sent twice came with the same event id: one id per (type, message, time).
        by_event = {(b["type"], b["message_id"], b["at"]): b["id"] for b in answered}
        assert len(by_event) == len(expected)
        now = time.time()
        for headers, body, _ in receiver.requests:
            assert verify(webhook["secret"], headers["Opentrack-Signature"], body, now)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        receiver.close()
