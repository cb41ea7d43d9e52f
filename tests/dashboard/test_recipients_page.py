"""The dashboard's Recipients page: one recipient's tier and the segments' CSV exports."""

import csv
import io
import re

from app import dashboard

PASSWORD = "a long enough password"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


def sign_in(client, runner):
    result = runner.invoke(args=["users", "create", "lead@example.com"], input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": "lead@example.com", "password": PASSWORD, "csrf_token": token, "next": ""}
    assert client.post("/dashboard/login", data=form).status_code == 302


def test_recipients_page_and_segment_exports(app, client, auth, runner, flush):
    dashboard.init_app(app)
    client.post("/api/v1/campaigns", json={"id": "c1", "name": "c1"}, headers=auth)
    body = {"html": "<body>x</body>", "recipients": ["ann@x.org", "bob@x.org"]}
    messages = client.post("/api/v1/campaigns/c1/inject", json=body, headers=auth).get_json()
    pixel = messages["messages"][0]["pixel_url"].split("/o/")[1]
    client.get("/o/" + pixel, headers={"User-Agent": IPHONE})
    flush()
    assert client.get("/dashboard/recipients").status_code == 302
    sign_in(client, runner)
    page = client.get("/dashboard/recipients?address=Ann@x.org").get_data(as_text=True)
    assert "<strong>active</strong>" in page and ">Recipients</a>" in page
    missing = client.get("/dashboard/recipients?address=zed@x.org").get_data(as_text=True)
    assert "No message was sent to" in missing
    download = client.get("/dashboard/recipients/inactive.csv?campaigns=1")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [row["recipient"] for row in rows] == ["bob@x.org"]
    assert client.get("/dashboard/recipients/inactive.csv").status_code == 400
    assert client.get("/dashboard/recipients/inactive.csv?days=x").status_code == 400
