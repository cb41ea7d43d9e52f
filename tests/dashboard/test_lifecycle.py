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


def test_sender_form_sets_and_clears_the_sender(signed_in, campaign, store):
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert 'name="sender_name" value=""' in page and 'placeholder="Nov"' in page
    response = post_form(signed_in, PAGE + "/sender", {"sender_name": " <b>Acme</b> "}, PAGE)
    assert response.status_code == 302
    assert store.get_campaign("nov-news")["sender_name"] == "<b>Acme</b>"
    page = signed_in.get(PAGE).get_data(as_text=True)
    assert 'name="sender_name" value="&lt;b&gt;Acme&lt;/b&gt;"' in page and "<b>Acme" not in page
    too_long = post_form(signed_in, PAGE + "/sender", {"sender_name": "x" * 201}, PAGE)
    assert too_long.status_code == 400
    text = too_long.get_data(as_text=True)
    assert 'id="manage-error"' in text and "&#39;sender_name&#39; must be at most 200" in text
    assert store.get_campaign("nov-news")["sender_name"] == "<b>Acme</b>"
    assert post_form(signed_in, PAGE + "/sender", {"sender_name": " "}, PAGE).status_code == 302
    assert store.get_campaign("nov-news")["sender_name"] is None


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
    for action in ("rename", "sender", "archive", "delete"):
        data = {"name": "x", "sender_name": "x", "confirm_id": "nov-news"}
        assert signed_in.post(f"{PAGE}/{action}", data=data).status_code == 400
    assert store.get_campaign("nov-news")["name"] == "Nov"
    assert store.get_campaign("nov-news")["sender_name"] is None


def test_unknown_dashboard_addresses_get_the_dashboards_404(signed_in):
    response = signed_in.get("/dashboard/no/such/page")
    assert response.status_code == 404
    assert "There is no dashboard page at /dashboard/no/such/page." in response.text
    assert "Back to the campaigns" in response.text
    missing = signed_in.get("/dashboard/campaigns/nope")
    assert missing.status_code == 404 and "There is no campaign with id" in missing.text


def test_unknown_dashboard_addresses_still_need_a_sign_in(client):
    assert client.get("/dashboard/no/such/page").status_code == 302


def test_campaign_list_sorts_filters_by_send_date_and_marks_follow_ups(signed_in, auth, store):
    for campaign_id, recipients in (("alpha", 1), ("beta", 3), ("gamma", 2)):
        store.create_campaign(campaign_id, campaign_id.title())
        inject(signed_in, auth, campaign_id, [f"p{n}@x.org" for n in range(recipients)])
    store.backdate_campaign("alpha", 10 * 86400)
    by_sent = signed_in.get("/dashboard/campaigns?sort=sent").text
    assert by_sent.index(">Beta<") < by_sent.index(">Gamma<") < by_sent.index(">Alpha<")
    assert 'aria-sort="descending"' in by_sent and "order=asc" in by_sent
    ascending = signed_in.get("/dashboard/campaigns?sort=sent&order=asc").text
    assert ascending.index(">Alpha<") < ascending.index(">Gamma<") < ascending.index(">Beta<")
    alpha_day = store.get_campaign("alpha")["first_injected_at"][:10]
    only = signed_in.get(f"/dashboard/campaigns?from={alpha_day}&to={alpha_day}").text
    assert ">Alpha<" in only and ">Beta<" not in only and "1 campaign<" in only
    assert ">Alpha<" in signed_in.get("/dashboard/campaigns?from=nonsense").text
    parent = store.get_campaign("beta")
    from app.core.stats import campaign_summary

    store.create_follow_up("beta-resend", "Beta again", campaign_summary(parent), False, 0, "9")
    listing = signed_in.get("/dashboard/campaigns").text
    assert (
        'href="/dashboard/campaigns/beta-resend/follow-up" title="A follow-up of beta"' in listing
    )


def test_compare_two_to_five_campaigns_and_the_open_rate_trend(signed_in, auth, store, flush):
    from test_dashboard import IPHONE_MAIL

    for campaign_id in ("alpha", "beta", "gamma"):
        store.create_campaign(campaign_id, campaign_id.title())
    [ann, _] = inject(signed_in, auth, "alpha", ["ann@x.org", "bob@x.org"])
    inject(signed_in, auth, "beta", ["cat@x.org"])
    signed_in.get(ann["pixel_url"].split("localhost")[1], headers={"User-Agent": IPHONE_MAIL})
    flush()
    page = signed_in.get("/dashboard/compare?id=alpha&id=beta").text
    # Human, visible and raw open rate: ann's direct open, of two.
    assert page.count('<td class="num"><strong>50.0%</strong><div class="small">1 of 2</div>') == 3
    assert '<strong>0.0%</strong><div class="small">0 of 1</div>' in page
    assert signed_in.get("/dashboard/compare?id=alpha").status_code == 400
    assert signed_in.get("/dashboard/compare?id=alpha&id=nope").status_code == 404
    listing = signed_in.get("/dashboard/campaigns").text
    assert 'name="id" value="gamma"' in listing and "Compare the chosen campaigns" in listing
    trend = listing[listing.index('id="trend"') :]
    assert trend.index("alpha") < trend.index("beta") and "gamma" not in trend  # never sent
    assert "alpha: 50.0%; beta: 0.0%" in trend
