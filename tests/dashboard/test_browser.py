"""The dashboard in real headless Chromium, against real gunicorn started as the Procfile says."""

import csv
import importlib.util
import os
from pathlib import Path

import gunicorn_server
import pytest
import requests
from gunicorn_server import Server

from app import create_app
from app.core.users import hash_password
from app.store import Store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
EMAIL = "ann@example.com"
PASSWORD = "browser test password"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']

if not Path(CHROMIUM).exists():
    MISSING = f"{CHROMIUM} is missing; ./scripts/test installs Debian's chromium package"
elif importlib.util.find_spec("playwright") is None:
    MISSING = "the playwright package is missing; pip install -e '.[test]'"
else:
    MISSING = None
if MISSING and os.environ.get("CI"):
    pytest.fail(MISSING, pytrace=False)
if MISSING:
    pytest.skip(MISSING, allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow


def dashboard_in_procfile_app(instance: Path) -> bool:
    """Return whether the app the Procfile serves already registers the dashboard."""
    app = create_app({"INSTANCE_PATH": str(instance)})
    app.extensions["opentrack"].recorder.stop()
    return "dashboard" in app.blueprints


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    """Gunicorn serving the app, with a dashboard user."""
    root = tmp_path_factory.mktemp("browser")
    env = {}
    if not dashboard_in_procfile_app(root / "probe"):
        # Until app/__init__.py registers the dashboard, serve a wrapper that does.
        (root / "with_dashboard.py").write_text(
            "from app import create_app as plain, dashboard\n\n\n"
            "def create_app():\n    app = plain()\n    dashboard.init_app(app)\n    return app\n"
        )
        env["PYTHONPATH"] = str(root)
        original = gunicorn_server.procfile_command

        def wrapped(process, port):
            words = original(process, port)
            return [w.replace("app:create_app()", "with_dashboard:create_app()") for w in words]

        patch = pytest.MonkeyPatch()
        patch.setattr(gunicorn_server, "procfile_command", wrapped)
        request.addfinalizer(patch.undo)
    server = Server(root / "instance", env)
    store = Store(server.env.get("OPENTRACK_DATABASE") or str(root / "instance" / "opentrack.db"))
    store.create_user(EMAIL, hash_password(PASSWORD))
    store.close()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A signed-in page that fails the test on any dialog (alert) a script opens."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(server.url + "/dashboard/campaigns")
    expect(page).to_have_url(server.url + "/dashboard/login?next=/dashboard/campaigns")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(server.url + "/dashboard/campaigns")
    yield page
    context.close()
    assert dialogs == [], "a script ran on a dashboard page"


def figure(page, key: str) -> str:
    return page.locator(f"#figure-{key} .value").inner_text()


def reload_until(page, **expected: str) -> None:
    """Reload until every figure shows its value: each gunicorn worker stores its own fetches."""
    for _ in range(50):
        if all(figure(page, key) == value for key, value in expected.items()):
            return
        page.wait_for_timeout(100)
        page.reload()
    assert {key: figure(page, key) for key in expected} == expected


def create_campaign(page, campaign_id: str, name: str = "") -> None:
    if page.locator("details.create[open]").count() == 0:
        page.click("details.create summary")
    page.fill("input[name=id]", campaign_id)
    page.fill("input[name=name]", name)
    page.click("button:has-text('Create campaign')")


def new_api_key(page, server, name: str) -> str:
    page.goto(server.url + "/dashboard/keys")
    page.fill("input[name=name]", name)
    page.click("button:has-text('Create key')")
    return page.locator("#new-key").inner_text().strip()


def inject(server, key: str, campaign_id: str, recipients: list[str]) -> list[dict]:
    response = requests.post(
        f"{server.url}/api/v1/campaigns/{campaign_id}/inject",
        json={"html": "<body>Hi</body>", "recipients": recipients},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["messages"]


def download_rows(page, button: str) -> list[dict]:
    with page.expect_download() as info:
        page.click(f"button:has-text('{button}')")
    with open(info.value.path(), newline="") as file:
        return list(csv.DictReader(file))


def test_create_inject_open_filter_and_export(page, server):
    expect(page.locator("pre.shell")).to_contain_text(f"curl -s -X POST {server.url}/api/v1/")
    create_campaign(page, "launch", "Spring launch")
    expect(page).to_have_url(server.url + "/dashboard/campaigns/launch")
    assert figure(page, "sent") == "0"
    expect(page.locator("pre.shell")).to_contain_text(
        f"{server.url}/api/v1/campaigns/launch/inject"
    )

    key = new_api_key(page, server, "browser")
    people = ["ann@x.org", "bob@x.org", "cat@x.org", "dan@x.org"]
    messages = inject(server, key, "launch", people)
    page.goto(server.url + "/dashboard/campaigns/launch")
    assert figure(page, "sent") == "4" and figure(page, "opened") == "0"
    assert page.locator("svg.chart rect.series-human title").count() == 1  # legend only

    requests.get(messages[0]["pixel_url"], headers={"User-Agent": IPHONE_MAIL}, timeout=5)
    requests.get(messages[1]["pixel_url"], headers={"User-Agent": "Mozilla/5.0"}, timeout=5)
    reload_until(page, opened="1", unknown="1")
    assert figure(page, "unknown") == "1" and figure(page, "not_opened") == "2"
    assert figure(page, "human_open_rate") == "25.0%"
    assert figure(page, "open_rate") == "50.0%"
    bars = page.locator("svg.chart rect.series-human title").all_text_contents()
    assert any(bar.endswith(":00: 1 human, 1 machine opens") for bar in bars), bars
    # The same numbers in the chart's table, for keyboards and screen readers.
    page.click("summary:has-text('Opens per hour as a table')")
    cells = [
        [cell.strip() for cell in row.split("\t")]
        for row in page.locator("#opens details tbody tr").all_inner_texts()
    ]
    assert [row[1:] for row in cells if row[1:] != ["0", "0"]] == [["1", "1"]], cells
    expect(page.locator(".breakdown").first).to_contain_text("Apple Mail")

    page.select_option("select[name=state]", "opened")
    page.click("button:has-text('Filter')")
    rows = page.locator("#recipients tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ann@x.org")
    rows.first.locator("a").click()
    expect(page.locator("h1")).to_have_text("ann@x.org")
    expect(page.locator("tbody tr.event")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Apple Mail loaded the image directly")

    page.goto(server.url + "/dashboard/campaigns/launch")
    not_opened = download_rows(page, "Download not opened (CSV)")
    assert sorted(row["recipient"] for row in not_opened) == ["cat@x.org", "dan@x.org"]
    with_unknown = download_rows(page, "Download not opened + unknown (CSV)")
    assert sorted(row["recipient"] for row in with_unknown) == ["bob@x.org", *people[2:]]
    page.goto(server.url + "/dashboard/campaigns/launch")
    page.fill("input[name=min_age_hours]", "2")
    expect(page.locator("input[name=min_age_hours]")).to_have_value("2")
    assert download_rows(page, "Download not opened (CSV)") == []


@pytest.mark.parametrize("hostile", XSS)
def test_hostile_user_agents_show_as_text(page, server, hostile):
    campaign_id = f"xss-{XSS.index(hostile)}"
    create_campaign(page, campaign_id)
    key = new_api_key(page, server, campaign_id)
    [message] = inject(server, key, campaign_id, [f"eve{hostile}@x.org"])
    requests.get(message["pixel_url"], headers={"User-Agent": hostile}, timeout=5)
    page.goto(f"{server.url}/dashboard/messages/{message['message_id']}")
    for _ in range(50):
        if page.locator(".ua").count():
            break
        page.wait_for_timeout(100)
        page.reload()
    expect(page.locator(".ua")).to_have_text(hostile)
    expect(page.locator("h1")).to_have_text(f"eve{hostile}@x.org".lower())
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 0
    page.goto(f"{server.url}/dashboard/campaigns/{campaign_id}")
    expect(page.locator("#recipients tbody")).to_contain_text(hostile.lower())
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
