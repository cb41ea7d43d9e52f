"""Renaming, archiving and deleting a campaign from its dashboard page."""

# ruff: noqa: F811  (the fixtures imported from test_dashboard are parameters here)

from test_dashboard import app, inject, post_form, signed_in, user  # noqa: F401

PAGE = "/dashboard/campaigns/nov-news"


def test_rename_shows_the_new_name(signed_in, campaign):
    response = post_form(signed_in, PAGE + "/rename", {"name": "  November news "}, PAGE)
    assert response.status_code == 302
    assert "<h1>November news</h1>" in signed_in.get(PAGE).get_data(as_text=True)


def test_an_empty_name_is_refused_beside_the_form(signed_in, campaign):
    response = post_form(signed_in, PAGE + "/rename", {"name": "  "}, PAGE)
    assert response.status_code == 400
    assert 'id="manage-error"' in response.get_data(as_text=True)
    assert "<h1>Nov</h1>" in signed_in.get(PAGE).get_data(as_text=True)


def test_archived_campaigns_leave_the_list_until_asked_for(signed_in, campaign):
    assert post_form(signed_in, PAGE + "/archive", {"archived": "true"}, PAGE).status_code == 302
    listing = signed_in.get("/dashboard/campaigns").get_data(as_text=True)
    assert PAGE not in listing
    assert "1 archived campaign is hidden" in listing
    shown = signed_in.get("/dashboard/campaigns?archived=1").get_data(as_text=True)
    assert PAGE in shown and "archived</span>" in shown
    assert "Unarchive" in signed_in.get(PAGE).get_data(as_text=True)
    post_form(signed_in, PAGE + "/archive", {"archived": "false"}, PAGE)
    assert PAGE in signed_in.get("/dashboard/campaigns").get_data(as_text=True)


def test_delete_needs_the_typed_id(signed_in, campaign, auth, store):
    inject(signed_in, auth, "nov-news", ["ann@x.org", "bob@x.org"])
    wrong = post_form(signed_in, PAGE + "/delete", {"confirm_id": "nov"}, PAGE)
    assert wrong.status_code == 400
    assert "Type the campaign&#39;s id, nov-news, to delete it." in wrong.get_data(as_text=True)
    assert store.get_campaign("nov-news")["sent"] == 2
    done = post_form(signed_in, PAGE + "/delete", {"confirm_id": "nov-news"}, PAGE)
    assert done.status_code == 302 and done.headers["Location"].endswith("deleted=nov-news")
    assert store.get_campaign("nov-news") is None
    [audit] = store.campaign_deletions()
    assert audit["actor"] == "dashboard:ann@example.com" and audit["messages"] == 2
    assert signed_in.get(PAGE).status_code == 404


def test_lifecycle_forms_check_csrf(signed_in, campaign, store):
    for action in ("rename", "archive", "delete"):
        response = signed_in.post(f"{PAGE}/{action}", data={"name": "x", "confirm_id": "nov-news"})
        assert response.status_code == 400
    assert store.get_campaign("nov-news")["name"] == "Nov"


def test_unknown_dashboard_addresses_get_the_dashboards_404(signed_in):
    response = signed_in.get("/dashboard/no/such/page")
    assert response.status_code == 404
    assert "There is no dashboard page at /dashboard/no/such/page." in response.text
    assert "Back to the campaigns" in response.text
    missing = signed_in.get("/dashboard/campaigns/nope")
    assert missing.status_code == 404 and "There is no campaign with id" in missing.text


def test_unknown_dashboard_addresses_still_need_a_sign_in(client):
    assert client.get("/dashboard/no/such/page").status_code == 302
