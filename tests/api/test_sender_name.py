"""The sender a campaign's opt-out page names: set through the API, shown escaped on the page."""

import pytest

HTML = "<html><body>Hi <a href='{{ optout_url }}'>stop tracking</a></body></html>"
XSS = '<script>alert(1)</script> & "Acme"'


def create(client, auth, body):
    return client.post("/api/v1/campaigns", json=body, headers=auth)


def patch(client, auth, body, campaign_id="nov-news"):
    return client.patch(f"/api/v1/campaigns/{campaign_id}", json=body, headers=auth)


def optout_path(client, auth, campaign_id="nov-news", recipient="bob@x.org"):
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/inject",
        json={"recipient": recipient, "html": HTML},
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["optout_url"].removeprefix("http://localhost")


def error(response, status=400):
    assert response.status_code == status, response.get_json()
    return response.get_json()["error"]


def test_create_with_a_sender_and_without_one(client, auth, store):
    made = create(client, auth, {"id": "acme", "name": "Nov", "sender_name": "  Acme Shop "})
    assert made.status_code == 201
    assert made.get_json()["sender_name"] == "Acme Shop"
    assert store.get_campaign("acme")["sender_name"] == "Acme Shop"
    plain = create(client, auth, {"id": "plain"}).get_json()
    assert plain["sender_name"] is None
    shown = client.get("/api/v1/campaigns/acme", headers=auth).get_json()
    assert shown["sender_name"] == "Acme Shop"
    listed = client.get("/api/v1/campaigns", headers=auth).get_json()["campaigns"]
    assert {c["id"]: c["sender_name"] for c in listed} == {"acme": "Acme Shop", "plain": None}


def test_patch_sets_changes_and_clears_it(client, auth, campaign, store):
    body = patch(client, auth, {"sender_name": "Acme"}).get_json()
    assert body["sender_name"] == "Acme" and body["name"] == "Nov"
    # Other fields leave it as it is; null clears it.
    assert patch(client, auth, {"name": "November"}).get_json()["sender_name"] == "Acme"
    assert patch(client, auth, {"sender_name": None}).get_json()["sender_name"] is None
    assert store.get_campaign("nov-news")["sender_name"] is None


@pytest.mark.parametrize(
    "value, words",
    [
        ("x" * 201, "at most 200 characters"),
        (42, "non-empty string"),
        (["Acme"], "non-empty string"),
        ("   ", "non-empty string"),
        ("Acme\nShop", "control characters"),
    ],
)
def test_bad_sender_names_are_a_400_naming_the_field(client, auth, campaign, store, value, words):
    for response in (
        create(client, auth, {"id": "other", "sender_name": value}),
        patch(client, auth, {"sender_name": value, "name": "Renamed"}),
    ):
        detail = error(response)
        assert "'sender_name'" in detail["message"] and words in detail["message"]
    # Nothing half-stored: no campaign made, the rename in the same body not applied.
    assert store.get_campaign("other") is None
    assert store.get_campaign("nov-news")["name"] == "Nov"
    assert store.get_campaign("nov-news")["sender_name"] is None


def test_a_200_character_sender_is_accepted(client, auth, campaign):
    assert patch(client, auth, {"sender_name": "y" * 200}).get_json()["sender_name"] == "y" * 200


def test_optout_page_names_the_sender_then_the_name(client, auth, campaign):
    path = optout_path(client, auth)
    page = client.get(path).get_data(as_text=True)
    assert "You are opting out of mail from <strong>Nov</strong>" in page
    patch(client, auth, {"sender_name": "Acme Shop"})
    page = client.get(path).get_data(as_text=True)
    assert "You are opting out of mail from <strong>Acme Shop</strong>" in page
    done = client.post(path).get_data(as_text=True)
    assert "no longer tracked" in done
    assert "You are opting out of mail from <strong>Acme Shop</strong>" in done


def test_optout_page_escapes_the_sender(client, auth, campaign):
    patch(client, auth, {"sender_name": XSS})
    page = client.get(optout_path(client, auth)).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Acme&#34;" in page


def test_optout_page_without_a_campaign_speaks_of_the_sender(client, auth, campaign, store):
    path = optout_path(client, auth)
    # Neither a sender nor a name (a row written outside the API): a neutral sentence.
    with store.db.write() as conn:
        conn.execute("UPDATE campaigns SET name = ? WHERE id = ?", ["", "nov-news"])
    page = client.get(path).get_data(as_text=True)
    assert "You are opting out of mail from the sender of this email" in page
