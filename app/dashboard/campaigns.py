"""Campaign pages: the list, creating one, one campaign's numbers and its non-openers CSV."""

import time

from flask import Response, abort, redirect, render_template, request, stream_with_context, url_for

from app.api.campaigns import MAX_NAME, SLUG
from app.core import export, timeline
from app.core.stats import STATES
from app.core.times import to_iso
from app.dashboard import svg
from app.dashboard.base import PAGE_SIZE, Pager, base_url, bp, page_arg, reports, store
from app.dashboard.figures import DIMENSIONS, breakdown_bars, headline
from app.store.sqlite import CampaignExists

MAX_SEARCH = 200


def search_arg() -> str:
    """Return the search text of the query string, trimmed."""
    return request.args.get("q", "").strip()[:MAX_SEARCH]


def find_campaign(campaign_id: str) -> dict:
    """Return a campaign or answer 404."""
    campaign = store().get_campaign(campaign_id)
    if campaign is None:
        abort(404, f"There is no campaign with id '{campaign_id}'.")
    return campaign


@bp.get("/")
def index():
    """Send the dashboard's front door to the campaign list."""
    return redirect(url_for("dashboard.campaigns"))


@bp.get("/campaigns")
def campaigns():
    """List campaigns, newest first, with their numbers side by side."""
    return campaign_list()


def campaign_list(form: dict | None = None, error: str | None = None, status: int = 200):
    """Render the campaign list, with the create form's values and error when it failed."""
    search = search_arg()
    pager = Pager(page_arg(), store().count_campaigns(search))
    rows = store().list_campaigns(limit=PAGE_SIZE, offset=pager.offset, search=search)
    page = render_template(
        "dashboard/campaigns.html",
        campaigns=rows,
        pager=pager,
        search=search,
        base_url=base_url(),
        form=form or {},
        error=error,
    )
    return page, status


@bp.post("/campaigns")
def create_campaign():
    """Create a campaign from the form, then show it."""
    campaign_id = request.form.get("id", "").strip()
    name = request.form.get("name", "").strip() or campaign_id
    form = {"id": campaign_id, "name": name}
    if not SLUG.match(campaign_id):
        error = "The id must be 1-64 lower-case letters, digits, '-' or '_', starting with a "
        return campaign_list(form, error + "letter or digit.", 400)
    if len(name) > MAX_NAME or any(ord(char) < 32 for char in name):
        return campaign_list(
            form, f"The name must be at most {MAX_NAME} printable characters.", 400
        )
    try:
        store().create_campaign(campaign_id, name)
    except CampaignExists:
        return campaign_list(form, f"A campaign with id '{campaign_id}' already exists.", 409)
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.get("/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    """Show one campaign: numbers, charts, breakdowns and a page of its recipients."""
    found = find_campaign(campaign_id)
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    search = search_arg()
    if search:
        total = reports().count_recipients(campaign_id, state, search)
    else:
        total = found[state] if state else found["sent"]
    pager = Pager(page_arg(), total)
    series = timeline.opens_over_time(store().hourly_opens(campaign_id), found["first_injected_at"])
    bounds = [bound for bound, _ in timeline.FIRST_OPEN_BUCKETS]
    first_opens = timeline.first_open_histogram(reports().first_open_counts(campaign_id, bounds))
    breakdowns = store().breakdowns(campaign_id)
    return render_template(
        "dashboard/campaign.html",
        campaign=found,
        cards=headline(found),
        opens_chart=svg.opens_chart(series["hours"], series["days"]),
        first_open_chart=svg.histogram(first_opens, "Time from sending to first human open"),
        breakdowns=[
            (label, svg.horizontal_bars(breakdown_bars(breakdowns.get(key, [])), label))
            for key, label in DIMENSIONS
        ],
        recipients=reports().recipients(campaign_id, state, search, PAGE_SIZE, pager.offset),
        pager=pager,
        state=state,
        search=search,
        states=STATES,
        base_url=base_url(),
    )


@bp.get("/campaigns/<campaign_id>/non-openers.csv")
def non_openers_csv(campaign_id: str):
    """Download the recipients who did not open (and, when asked, those unknown) as CSV."""
    find_campaign(campaign_id)
    include_unknown = request.args.get("include_unknown", "") in ("1", "true", "on", "yes")
    raw_age = request.args.get("min_age_hours", "").strip() or "0"
    try:
        min_age_hours = float(raw_age)
    except ValueError:
        abort(400, "The minimum age must be a number of hours.")
    if not 0 <= min_age_hours <= 100_000:
        abort(400, "The minimum age must be between 0 and 100000 hours.")
    states = ("not_opened", "unknown") if include_unknown else ("not_opened",)
    cutoff = to_iso(time.time() - min_age_hours * 3600)
    rows = store().iter_non_openers(campaign_id, states, cutoff)
    suffix = "-with-unknown" if include_unknown else ""
    return Response(
        stream_with_context(export.csv_lines(rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{campaign_id}-non-openers{suffix}.csv"'
        },
    )
