"""End to end: real gunicorn on a free port, the real CLI, real HTTP."""

import csv
import io
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from gunicorn_server import Server, wait_for

pytestmark = pytest.mark.slow

IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
APPLE_MPP = "Mozilla/5.0"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("e2e") / "instance")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server):
    result = server.cli("keys", "create", "e2e")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("otk_") and "\n" not in key
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def test_whole_loop(server, http):
    response = http.post(server.url + "/api/v1/campaigns", json={"id": "e2e", "name": "E2E"})
    assert response.status_code == 201
    recipients = [f"user{i}@example.com" for i in range(6)]
    response = http.post(
        server.url + "/api/v1/campaigns/e2e/inject",
        json={"html": "<html><body>Hi</body></html>", "recipients": recipients},
    )
    assert response.status_code == 201
    messages = response.json()["messages"]
    assert all(m["pixel_url"].startswith(server.url + "/o/") for m in messages)

    agents = [IPHONE_MAIL, OUTLOOK, GMAIL_PROXY, APPLE_MPP]
    for message, agent in zip(messages, agents, strict=False):
        pixel = requests.get(message["pixel_url"], headers={"User-Agent": agent}, timeout=30)
        assert pixel.status_code == 200
        assert pixel.content[:6] == b"GIF89a" and len(pixel.content) == 43
        assert pixel.headers["Cache-Control"] == "no-store, no-cache, must-revalidate, private"
    assert requests.head(messages[0]["pixel_url"], timeout=30).status_code == 200
    assert requests.get(server.url + "/o/forged.gif", timeout=30).status_code == 200

    stats_url = server.url + "/api/v1/campaigns/e2e/stats"
    stats = wait_for(lambda: (s := http.get(stats_url).json())["total_opens"] == 5 and s)
    assert stats["sent"] == 6
    assert stats["opened"] == 3
    assert stats["unknown"] == 1
    assert stats["not_opened"] == 2
    assert stats["human_open_rate"] == 0.5
    assert stats["open_rate"] == round(4 / 6, 4)
    assert stats["visible_open_rate"] == 0.6

    detail = http.get(server.url + f"/api/v1/messages/{messages[1]['message_id']}").json()
    assert detail["state"] == "opened"
    assert detail["events"][0]["client"].startswith("Outlook")
    assert detail["events"][0]["ip"] == "127.0.0.0"

    export = http.get(server.url + "/api/v1/campaigns/e2e/non-openers?format=csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert sorted(row["recipient"] for row in rows) == recipients[4:]
    with_unknown = http.get(
        server.url + "/api/v1/campaigns/e2e/non-openers?format=csv&include_unknown=true"
    )
    assert len(list(csv.DictReader(io.StringIO(with_unknown.text)))) == 3

    result = server.cli("stats", "e2e")
    assert result.returncode == 0
    assert "human_open_rate" in result.stdout and "50.0%" in result.stdout
    result = server.cli("export-non-openers", "e2e", "--format", "csv")
    assert sorted(result.stdout.splitlines()[1:]) == sorted(
        line for line in export.text.splitlines()[1:]
    )


def test_no_open_lost_under_concurrency_and_a_killed_worker(server, http):
    http.post(server.url + "/api/v1/campaigns", json={"id": "load"})
    messages = http.post(
        server.url + "/api/v1/campaigns/load/inject",
        json={"html": "<body></body>", "recipients": [f"r{i}" for i in range(300)]},
    ).json()["messages"]
    urls = [m["pixel_url"] for m in messages]
    rng = random.Random(1)

    def fetch(n):
        with requests.Session() as session:
            answered = 0
            for _ in range(5):
                url = rng.choice(urls)
                try:
                    if session.get(url, timeout=30).status_code == 200:
                        answered += 1
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    # The request the killed worker was serving never got its 200 (or got
                    # its headers and then a cut body).
                    session.close()
            return answered

    with ThreadPoolExecutor(200) as pool:
        futures = [pool.submit(fetch, n) for n in range(200)]
        # Kill one worker outright mid-burst: its spool must be replayed by a successor.
        time.sleep(0.2)
        victim = server.worker_pids()[0]
        import os

        os.kill(victim, signal.SIGKILL)
        answered = sum(f.result() for f in futures)
    # Only the request in the killed worker's hands can go unanswered.
    assert answered >= 995
    stats_url = server.url + "/api/v1/campaigns/load/stats"
    total = wait_for(lambda: http.get(stats_url).json()["total_opens"] >= answered, seconds=30)
    assert total
    server.cli("flush")
    # Every 200 is stored, once. The killed worker may have spooled the fetch in its hands
    # before it died, unanswered: stored all the same (the spool is durable at once).
    stored = http.get(stats_url).json()["total_opens"]
    assert answered <= stored <= answered + 1
