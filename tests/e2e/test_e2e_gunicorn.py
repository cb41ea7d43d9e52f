"""The web server as the Procfile starts it: long requests reach the pixel, and a master
killed outright is restarted on the same port at once with nothing answered lost."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from gunicorn_server import ROOT, Server, procfile_command, wait_for

from app.tracking.spool import MAX_USER_AGENT

pytestmark = [pytest.mark.slow, pytest.mark.one_engine]

OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.6326; Pro)"


def api_session(server: Server) -> requests.Session:
    result = server.cli("keys", "create", "e2e")
    assert result.returncode == 0, result.stderr
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {result.stdout.strip()}"
    return session


def inject(server: Server, http: requests.Session, campaign: str, count: int) -> list[dict]:
    assert http.post(server.url + "/api/v1/campaigns", json={"id": campaign}).status_code == 201
    response = http.post(
        server.url + f"/api/v1/campaigns/{campaign}/inject",
        json={"html": "<body>Hi</body>", "recipients": [f"r{i}@x.org" for i in range(count)]},
    )
    assert response.status_code == 201, response.text
    return response.json()["messages"]


def stored_events(server: Server, http: requests.Session, message_id: str) -> list[dict]:
    return http.get(server.url + f"/api/v1/messages/{message_id}").json()["events"]


def test_long_urls_and_headers_reach_the_pixel_and_are_recorded(tmp_path):
    server = Server(tmp_path / "instance")
    try:
        http = api_session(server)
        [long_url, long_agent, many_headers] = inject(server, http, "long", 3)
        # An 8,000-byte URL: the pixel's own, padded by a proxy's parameters.
        url = long_url["pixel_url"]
        path = url.removeprefix(server.url)
        padded = url + "?p=" + "a" * (8000 - len(path) - 3)
        assert len(padded.removeprefix(server.url)) == 8000
        # A 16 KB user agent (and a 10,000-character one, refused with 431 before): both cut.
        agent = OUTLOOK + " " + "x" * (16 * 1024 - len(OUTLOOK) - 1)
        # And 16 KB of headers over many lines.
        headers = {f"X-Extra-{i}": "y" * 400 for i in range(40)}
        fetches = [
            (padded, {"User-Agent": OUTLOOK}),
            (long_agent["pixel_url"], {"User-Agent": agent}),
            (long_agent["pixel_url"], {"User-Agent": "Z" * 10_000}),
            (many_headers["pixel_url"], {"User-Agent": OUTLOOK, **headers}),
        ]
        for target, extra in fetches:
            response = requests.get(target, headers=extra, timeout=30)
            assert response.status_code == 200, (response.status_code, target[:80])
            assert response.content[:6] == b"GIF89a" and len(response.content) == 43
        messages = [long_url, long_agent, many_headers]

        def counts():
            return [len(stored_events(server, http, m["message_id"])) for m in messages]

        assert wait_for(lambda: counts() == [1, 2, 1], seconds=30), counts()
        agents = sorted(
            event["user_agent"] for event in stored_events(server, http, long_agent["message_id"])
        )
        assert agents == sorted([agent[:MAX_USER_AGENT], "Z" * MAX_USER_AGENT])
        # Bounded all the same: beyond gunicorn's largest request line, gunicorn refuses.
        too_long = requests.get(url + "?p=" + "a" * 9000, timeout=30)
        assert too_long.status_code in (400, 414)
        huge = requests.get(url, headers={"User-Agent": "x" * 40_000}, timeout=30)
        assert huge.status_code in (400, 431)
    finally:
        server.stop()


def start_on(port: int, env: dict, log) -> subprocess.Popen:
    """Start the Procfile's web command on a given port."""
    return subprocess.Popen(
        procfile_command("web", port),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_a_killed_master_restarts_at_once_on_its_port_and_loses_nothing(tmp_path):
    server = Server(tmp_path / "instance")
    successor = None
    stop = threading.Event()
    try:
        http = api_session(server)
        messages = inject(server, http, "kill", 50)
        urls = [m["pixel_url"] for m in messages]
        workers = server.worker_pids()
        assert workers
        answered: list[str] = []
        lock = threading.Lock()

        def load(index: int) -> None:
            n = index
            with requests.Session() as session:
                while not stop.is_set():
                    n += 3
                    try:
                        response = session.get(
                            urls[n % len(urls)], headers={"User-Agent": OUTLOOK}, timeout=10
                        )
                    except requests.RequestException:
                        session.close()
                        time.sleep(0.01)
                        continue  # not answered: nobody was told it was recorded
                    if response.status_code == 200 and len(response.content) == 43:
                        with lock:
                            answered.append(urls[n % len(urls)])

        threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        os.kill(server.process.pid, signal.SIGKILL)  # the master alone, mid-load
        server.process.wait()
        killed_at = time.monotonic()
        # The workers die with their master, each after the request in its hands.
        gone = wait_for(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in workers), 5)
        assert gone, "orphaned workers outlived their master"
        assert time.monotonic() - killed_at < 5
        # The same command on the same port, at once: it binds and serves.
        with open(tmp_path / "successor.log", "w") as log:
            successor = start_on(server.port, server.env, log)

            def serving():
                try:
                    return requests.get(server.url + "/ping.gif", timeout=5).status_code == 200
                except requests.RequestException:
                    return successor.poll() is not None and "exited"

            assert wait_for(serving, 60) is True, (tmp_path / "successor.log").read_text()
            time.sleep(1.0)  # load on the new master too
            stop.set()
            for thread in threads:
                thread.join()
            assert len(answered) > 20
            # Every answered fetch is stored: the dead workers' spools are replayed by the new
            # server (at the latest with the next valid fetch, made here).
            requests.get(urls[0], headers={"User-Agent": OUTLOOK}, timeout=10)
            stats = server.url + "/api/v1/campaigns/kill/stats"
            total = wait_for(lambda: http.get(stats).json()["total_opens"] >= len(answered) + 1, 30)
            server.cli("flush")
            stored = http.get(stats).json()["total_opens"]
            assert total, (stored, len(answered))
            # A fetch in a worker's hands when it stopped may be stored without its answer.
            assert len(answered) + 1 <= stored <= len(answered) + 1 + 8
    finally:
        stop.set()
        if successor is not None and successor.poll() is None:
            successor.send_signal(signal.SIGTERM)
            successor.wait(30)
        server.stop()


def private_mb(pid: int) -> float:
    """Return the memory only this process holds (its private pages), in MB."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def test_workers_share_the_geo_data_the_master_loaded(tmp_path):
    server = Server(tmp_path / "instance", {"OPENTRACK_PROXY_HOPS": "1"})
    try:
        http = api_session(server)
        messages = inject(server, http, "geo", 40)
        # Public addresses, so every worker's writer looks each one up.
        for n, message in enumerate(messages):
            response = requests.get(
                message["pixel_url"],
                headers={"User-Agent": OUTLOOK, "X-Forwarded-For": f"8.8.{n}.8"},
                timeout=30,
            )
            assert response.status_code == 200
        stats = server.url + "/api/v1/campaigns/geo/stats"
        assert wait_for(lambda: http.get(stats).json()["total_opens"] == 40, 30)
        event = stored_events(server, http, messages[0]["message_id"])[0]
        assert event["country"] == "US"
        # geoip2fast's tables take over 100 MB in a process that loads them itself; a
        # worker that shares the master's holds a small part of that as its own.
        privates = [private_mb(pid) for pid in server.worker_pids()]
        assert privates and max(privates) < 70, privates
        log = (tmp_path / "gunicorn.log").read_text()
        assert "geo data loaded in the master" in log
    finally:
        server.stop()
