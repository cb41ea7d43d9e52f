"""Every signed-in page in real Chromium: fits a phone and a desktop, readable charts, and
axe-core (from the npm registry) finds no serious or critical accessibility violation."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from gunicorn_server import Server, wait_for
from playwright.sync_api import expect, sync_playwright  # noqa: E402, I001
from test_browser import CHROMIUM, CHROMIUM_ARGS, EMAIL, IPHONE_MAIL, PASSWORD

from app.core.users import hash_password
from app.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.one_engine]

WIDTHS = (390, 1280)
AXE_VERSION = "4.10.2"


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe-core's script, installed with npm into a cache folder outside the checkout."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opentrack-axe"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["npm", "install", "--prefix", str(cache), "--no-save", f"axe-core@{AXE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0 or not script.exists():
            message = f"npm could not install axe-core: {result.stderr[-500:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    return script


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Gunicorn with a user, a campaign with opens and a click, a follow-up and a webhook."""
    root = tmp_path_factory.mktemp("pages")
    server = Server(root / "instance", {"OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true"})
    store = Store(server.env.get("OPENTRACK_DATABASE") or str(root / "instance" / "opentrack.db"))
    store.create_user(EMAIL, hash_password(PASSWORD))
    key = server.cli("keys", "create", "pages").stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    api = server.url + "/api/v1"
    requests.post(
        f"{api}/campaigns", json={"id": "spring", "name": "Spring launch"}, headers=headers
    ).raise_for_status()
    response = requests.post(
        f"{api}/campaigns/spring/inject",
        json={
            "recipients": [f"person{n}@example.com" for n in range(12)],
            "html": '<body><a href="https://example.com/offer">Offer</a></body>',
            "track_clicks": True,
        },
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    messages = response.json()["messages"]
    for message in messages[:5]:
        requests.get(message["pixel_url"], headers={"User-Agent": IPHONE_MAIL}, timeout=5)
    requests.get(messages[5]["pixel_url"], headers={"User-Agent": "Mozilla/5.0"}, timeout=5)
    click_url = re.search(r'href="([^"]+)"', messages[0]["html"]).group(1)
    requests.get(click_url, headers={"User-Agent": IPHONE_MAIL}, allow_redirects=False, timeout=5)
    requests.post(
        f"{api}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["first_open"]},
        headers=headers,
        timeout=5,
    ).raise_for_status()
    assert wait_for(lambda: (store.get_campaign("spring") or {}).get("opened") == 5)
    store.create_campaign("old-news", "Old news")
    store.update_campaign("old-news", archived=True)
    webhook_id = store.list_webhooks()[0]["id"]
    store.close()
    yield {"server": server, "message": messages[0]["message_id"], "webhook": webhook_id}
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in(browser, site, width: int, **options):
    """Return a page signed in at a viewport width."""
    context = browser.new_context(viewport={"width": width, "height": 900}, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    url = site["server"].url
    page.goto(url + "/dashboard/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(url + "/dashboard/campaigns")
    return page


def follow_up(browser, site) -> None:
    """Create the follow-up through the campaign page's form."""
    page = signed_in(browser, site, 1280)
    page.goto(site["server"].url + "/dashboard/campaigns/spring")
    page.fill("#follow-up-action form[method=post] input[name=follow_up_age_hours]", "0")
    page.click("button:has-text('Follow up with non-openers')")
    expect(page.locator("h1")).to_be_visible()
    page.context.close()


def pages(site) -> list[str]:
    """Return every signed-in page worth looking at."""
    return [
        "/dashboard/campaigns",
        "/dashboard/campaigns?archived=1",
        "/dashboard/campaigns/spring",
        "/dashboard/campaigns/spring?breakdown=fetches",
        "/dashboard/campaigns/spring?by=day&tz=Asia/Kolkata",
        "/dashboard/compare?id=spring&id=old-news",
        "/dashboard/campaigns/spring-resend",
        "/dashboard/campaigns/spring-resend/follow-up",
        f"/dashboard/messages/{site['message']}",
        "/dashboard/keys",
        "/dashboard/webhooks",
        f"/dashboard/webhooks/{site['webhook']}",
        "/dashboard/campaigns/no-such-campaign",
    ]


@pytest.fixture(scope="module")
def every_page(browser, site):
    """The list of pages, once the follow-up they include exists."""
    follow_up(browser, site)
    return pages(site)


# The outermost elements that reach past the viewport's right edge, to name in a failure.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5
          && e.parentElement.getBoundingClientRect().right <= innerWidth + 0.5)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""
# Each chart's smallest text as drawn: its font size times the SVG's scale on the page.
SMALLEST_CHART_TEXT = """() => {
  let smallest = Infinity;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const text of svg.querySelectorAll('text')) {
      smallest = Math.min(smallest, parseFloat(getComputedStyle(text).fontSize) * scale);
    }
  }
  return smallest;
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_viewport(browser, site, every_page, width):
    page = signed_in(browser, site, width)
    for path in every_page:
        response = page.goto(site["server"].url + path)
        assert response.status in (200, 404), path
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{path}: {wide} px at {width}: {page.evaluate(OVERFLOWING)}"
        smallest = page.evaluate(SMALLEST_CHART_TEXT)
        assert smallest >= 11 - 0.01, f"{path}: chart text of {smallest:.1f} px at {width} px"
    page.context.close()


def test_the_header_collapses_on_a_phone(browser, site):
    page = signed_in(browser, site, 390)
    assert page.locator(".wide-menu").is_hidden()
    sign_out = page.locator(".narrow-menu button:has-text('Sign out')").first
    assert sign_out.is_hidden()
    page.click(".narrow-menu summary")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.locator(".narrow-menu a:has-text('API keys')").click()
    expect(page.locator("h1")).to_have_text("API keys")
    page.context.close()
    page = signed_in(browser, site, 1280)
    assert page.locator(".narrow-menu").is_hidden()
    expect(page.locator(".wide-menu button:has-text('Sign out')").first).to_be_visible()
    page.context.close()


def test_skip_link_is_first_and_moves_focus_to_the_content(browser, site):
    page = signed_in(browser, site, 1280)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_no_serious_violation(browser, site, every_page, axe_script, width):
    # The pages forbid every script; the test lets its own one in to run axe.
    page = signed_in(browser, site, width, bypass_csp=True)
    found = {}
    for path in [*every_page, "/dashboard/login"]:
        if path == "/dashboard/login":
            page.context.clear_cookies()
        page.goto(site["server"].url + path)
        page.add_script_tag(path=str(axe_script))
        result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
        serious = [
            {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:3]]}
            for v in json.loads(result)["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[path] = serious
    page.context.close()
    assert found == {}, json.dumps(found, indent=1)
