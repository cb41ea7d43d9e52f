"""Debian's nginx, configured with the site file of docs/production.md, in front of a real
gunicorn with OPENTRACK_PROXY_HOPS=1: the client's address is stored, an X-Forwarded-For the
client sent itself is not trusted, the pixel's headers pass unchanged, and the documented
SQLite backup command copies the running database."""

import http.client
import json
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from gunicorn_server import ROOT, Server, free_port, wait_for

pytestmark = pytest.mark.slow

PRODUCTION = ROOT / "docs" / "production.md"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"
# Hop-by-hop headers, and the two every server sets for itself.
OWN_HEADERS = {"connection", "keep-alive", "date", "server"}


def documented_block(language: str, containing: str = "") -> str:
    """Return the one fenced block of docs/production.md in `language` holding `containing`."""
    blocks = re.findall(rf"```{language}\n(.*?)```", PRODUCTION.read_text(), re.S)
    blocks = [block for block in blocks if containing in block]
    assert len(blocks) == 1, f"expected one {language} block with {containing!r}"
    return blocks[0]


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} is not in the documented site file exactly once"
    return text.replace(old, new)


def find_nginx() -> str | None:
    """Return Debian's nginx binary (in /usr/sbin, often not on a user's PATH), if installed."""
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(path).exists()),
        None,
    )


class Nginx:
    """nginx in the foreground with its own prefix, config and logs in a temporary folder."""

    def __init__(self, binary: str, folder: Path, site: str):
        self.folder = folder
        self.port = free_port()
        conf = folder / "nginx.conf"
        conf.write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log info;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log {folder}/access.log;\n"
            + "".join(
                f"    {kind}_temp_path {folder}/{kind}_temp;\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            )
            + site.replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port} ssl;")
            + "}\n"
        )
        command = [binary, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(command)
        if not wait_for(self.listening):
            self.stop()
            raise RuntimeError("nginx did not start: " + (folder / "error.log").read_text())

    def listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for 127.0.0.1, and its key beside it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return folder / "cert.pem"


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    server = Server(
        tmp_path_factory.mktemp("behind-nginx") / "instance",
        {"OPENTRACK_PROXY_HOPS": "1", "OPENTRACK_STORE_IP": "full"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, gunicorn, certificate):
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx is not installed (scripts/test installs Debian's nginx-light)")
    site = documented_block("nginx")
    site = replace_once(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{gunicorn.port};")
    site = replace_once(
        site,
        "/etc/letsencrypt/live/track.example.com/fullchain.pem",
        str(certificate),
    )
    site = replace_once(
        site,
        "/etc/letsencrypt/live/track.example.com/privkey.pem",
        str(certificate.with_name("key.pem")),
    )
    # Not under pytest's tmp_path: run as root, nginx's workers (user nobody) could not reach
    # their temporary files there.
    folder = Path(tempfile.mkdtemp(prefix="opentrack-nginx-"))
    folder.chmod(0o755)
    proxy = Nginx(binary, folder, site)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def api(gunicorn, nginx, certificate):
    """A session that calls the API through nginx, over TLS."""
    key = gunicorn.cli("keys", "create", "nginx").stdout.strip()
    session = requests.Session()
    # Not the environment's CA bundle (which requests would prefer) nor its proxies.
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {key}"
    session.verify = str(certificate)
    session.base = f"https://127.0.0.1:{nginx.port}"
    response = session.post(session.base + "/api/v1/campaigns", json={"id": "proxied"})
    assert response.status_code == 201, response.text
    return session


def inject(api, recipient: str, html: str = "<html><body>Hi</body></html>") -> dict:
    response = api.post(
        api.base + "/api/v1/campaigns/proxied/inject", json={"recipient": recipient, "html": html}
    )
    assert response.status_code == 201, response.text[:500]
    return response.json()


def fetch(port: int, path: str, source: str, certificate: Path, headers: dict):
    """GET path from nginx over TLS, connecting from the loopback address `source`."""
    context = ssl.create_default_context(cafile=str(certificate))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, source_address=(source, 0), context=context, timeout=30
    )
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def stored_ips(api, message_id: str) -> list[str]:
    response = api.get(f"{api.base}/api/v1/messages/{message_id}")
    return [event["ip"] for event in response.json()["events"]]


def test_links_are_minted_with_the_scheme_nginx_was_reached_by(api):
    message = inject(api, "scheme@example.com")
    # X-Forwarded-Proto came through: the pixel of a TLS request is an https:// URL.
    assert message["pixel_url"].startswith("https://127.0.0.1/o/")


def test_the_stored_ip_is_the_clients_and_a_forwarded_for_it_sent_is_not_trusted(
    api, nginx, certificate
):
    spoofing = inject(api, "spoofing@example.com")
    honest = inject(api, "honest@example.com")
    for message, source, headers in (
        (spoofing, "127.0.0.2", {"X-Forwarded-For": "203.0.113.9"}),
        (honest, "127.0.0.3", {}),
    ):
        path = urlsplit(message["pixel_url"]).path
        status, _, body = fetch(
            nginx.port, path, source, certificate, {"User-Agent": THUNDERBIRD, **headers}
        )
        assert status == 200 and body.startswith(b"GIF89a")
    assert wait_for(lambda: stored_ips(api, spoofing["message_id"])) == ["127.0.0.2"]
    assert wait_for(lambda: stored_ips(api, honest["message_id"])) == ["127.0.0.3"]


def test_the_pixels_headers_pass_through_unchanged(api, gunicorn, nginx, certificate):
    path = urlsplit(inject(api, "headers@example.com")["pixel_url"]).path
    direct = requests.get(gunicorn.url + path, headers={"User-Agent": THUNDERBIRD}, timeout=30)
    status, proxied, body = fetch(
        nginx.port, path, "127.0.0.1", certificate, {"User-Agent": THUNDERBIRD}
    )
    assert status == direct.status_code == 200
    assert body == direct.content
    expected = {k.lower(): v for k, v in direct.headers.items() if k.lower() not in OWN_HEADERS}
    got = {k.lower(): v for k, v in proxied.items() if k.lower() not in OWN_HEADERS}
    assert got == expected
    assert got["cache-control"] == "no-store, no-cache, must-revalidate, private"
    assert got["content-type"] == "image/gif"


def test_a_large_batch_reaches_the_app(api):
    # Over nginx's default 1 MB limit: client_max_body_size lets it through.
    message = inject(api, "large@example.com", "<html><body>" + "x" * 1_500_000 + "</body></html>")
    assert len(message["html"]) > 1_500_000


@pytest.mark.sqlite_only
def test_the_documented_backup_copies_the_running_database(api, gunicorn, tmp_path):
    inject(api, "backed-up@example.com")
    database = gunicorn.env["OPENTRACK_INSTANCE_PATH"] + "/opentrack.db"
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 command is not installed (scripts/test installs it)")
    command = documented_block("sh", ".backup").strip()
    command = replace_once(command, "/var/lib/opentrack/instance/opentrack.db", database)
    command = replace_once(command, "/backups/", f"{tmp_path}/")
    # The server keeps writing opens while the backup runs.
    writes = subprocess.Popen(
        [sys.executable, "-c", WRITER, api.base, api.headers["Authorization"], api.verify]
    )
    subprocess.run(["bash", "-c", command], check=True)
    writes.wait(60)
    [copy] = tmp_path.glob("opentrack-*.db")
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [row[0] for row in conn.execute("SELECT id FROM campaigns")]
        assert "proxied" in ids
        assert conn.execute(
            "SELECT count(*) FROM messages WHERE recipient = 'backed-up@example.com'"
        ).fetchone() == (1,)


# Injects a few messages through nginx while the backup runs.
WRITER = """
import sys, requests
base, auth, verify = sys.argv[1:]
session = requests.Session()
session.trust_env = False
for n in range(20):
    session.post(base + "/api/v1/campaigns/proxied/inject", timeout=30, verify=verify,
                  headers={"Authorization": auth},
                  json={"recipient": f"during{n}@example.com", "html": "<p>"})
"""


def test_json_shape_survives_the_proxy(api):
    response = api.get(api.base + "/api/v1/campaigns/none")
    assert response.status_code == 404
    assert set(json.loads(response.text)) == {"error"}


def test_the_documented_web_unit_runs_the_procfiles_web_line():
    unit = documented_block("ini", "# /etc/systemd/system/opentrack-web.service")
    [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    documented = exec_start.removeprefix("ExecStart=").split()
    procfile = next(
        line.partition(":")[2].split()
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.startswith("web:")
    )
    assert Path(documented[0]).name == procfile[0] == "gunicorn"
    # The same arguments, but bound to loopback, where nginx finds it.
    assert documented[1:] == [
        "127.0.0.1:8000" if word == "0.0.0.0:$PORT" else word for word in procfile[1:]
    ]
