"""Seed demo data, serve it with gunicorn and take the README's dashboard screenshots.

    .venv/bin/python scripts/screenshots.py

Writes scripts/screenshots/campaigns.png, campaign.png and message.png at 1280 px wide, and
campaigns-phone.png, campaign-phone.png and message-phone.png at 390 px, with headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright).
"""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "scripts")]

import gunicorn_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from seed_demo import (  # noqa: E402
    DEMO_EMAIL,
    DEMO_PASSWORD,
    make_app,
    seed_campaign,
    seed_small_campaigns,
    signed_in_client,
)

OUT = ROOT / "scripts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def seed(instance: Path) -> str:
    """Seed a history of campaigns and one large launch; return a message id worth showing."""
    app = make_app(str(instance))
    seed_small_campaigns(app, 11)
    seed_campaign(app, "spring-launch", "Spring launch: new plans", 20_000, 60_000, days_ago=9)
    signed_in_client(app)  # creates the demo user
    store = app.extensions["opentrack"].store
    message_id = max(
        store.recipients("spring-launch", "opened", limit=200),
        key=lambda message: message["opens"],
    )["id"]
    app.extensions["opentrack"].recorder.stop()
    return message_id


def serve(root: Path) -> gunicorn_server.Server:
    """Start gunicorn as the Procfile does, with the dashboard registered."""
    wrapper = root / "with_dashboard.py"
    wrapper.write_text(
        "from app import create_app as plain, dashboard\n\n\n"
        "def create_app():\n    app = plain()\n    dashboard.init_app(app)\n    return app\n"
    )
    original = gunicorn_server.procfile_command

    def with_dashboard(process, port):
        words = original(process, port)
        return [word.replace("app:create_app()", "with_dashboard:create_app()") for word in words]

    # init_app does nothing when the app registers the dashboard itself.
    gunicorn_server.procfile_command = with_dashboard
    return gunicorn_server.Server(root / "instance", {"PYTHONPATH": str(root)})


def shoot(browser, url: str, message_id: str, width: int, suffix: str) -> None:
    """Sign in at a window width and take the three pages."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url + "/dashboard/login")
    page.fill("#email", DEMO_EMAIL)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/dashboard/campaigns")
    page.screenshot(path=OUT / f"campaigns{suffix}.png", full_page=True)
    page.goto(url + "/dashboard/campaigns/spring-launch")
    height = page.locator("#breakdowns").bounding_box()["y"] - 10
    clip = {"x": 0, "y": 0, "width": width, "height": height}
    page.screenshot(path=OUT / f"campaign{suffix}.png", clip=clip, full_page=True)
    page.goto(f"{url}/dashboard/messages/{message_id}")
    page.screenshot(path=OUT / f"message{suffix}.png", full_page=True)
    page.close()


def main() -> None:
    """Take the screenshots."""
    root = Path(tempfile.mkdtemp(prefix="opentrack-shots-"))
    message_id = seed(root / "instance")
    server = serve(root)
    OUT.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for width, suffix in ((1280, ""), (390, "-phone")):
                shoot(browser, server.url, message_id, width, suffix)
            browser.close()
    finally:
        server.stop()
    for suffix in ("", "-phone"):
        for name in ("campaigns", "campaign", "message"):
            print(OUT / f"{name}{suffix}.png")


if __name__ == "__main__":
    main()
