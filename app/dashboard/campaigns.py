"""Campaign pages: the list, creating one, one campaign's numbers and its non-openers CSV."""

import time

from flask import Response, abort, redirect, render_template, request, stream_with_context, url_for

from app.core import export, fields, timeline
from app.core.campaign_report import breakdowns
from app.core.estimate import estimated_open_rate, open_strata
from app.core.fields import FieldError
from app.core.stats import STATES, campaign_summary
from app.core.times import to_iso
from app.dashboard import svg
from app.dashboard.base import PAGE_SIZE, Pager, base_url, bp, hours_arg, page_arg
from app.dashboard.figures import DIMENSIONS, breakdown_bars, headline
from app.services import store
from app.store import CampaignExists

MAX_SEARCH = 200


def search_arg() -> str:
    """Return the search text of the query string, trimmed."""
    return request.args.get("q", "").strip()[:MAX_SEARCH]


def find_campaign(campaign_id: str) -> dict:
    """Return a campaign's numbers or answer 404."""
    campaign = store().get_campaign(campaign_id)
    if campaign is None:
        abort(404, f"There is no campaign with id '{campaign_id}'.")
    return campaign_summary(campaign)


@bp.app_template_global()
def campaign_links(campaign_id: str, limit: int = 10) -> list[dict]:
    """Return a campaign's most clicked links, for its page."""
    return store().link_counts(campaign_id, limit)


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
        campaigns=[campaign_summary(row) for row in rows],
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
    typed_id = request.form.get("id", "").strip()
    typed_name = request.form.get("name", "").strip()
    form = {"id": typed_id, "name": typed_name or typed_id}
    try:
        campaign_id, name = fields.campaign(typed_id, typed_name or None)
        store().create_campaign(campaign_id, name)
    except FieldError as error:
        return campaign_list(form, str(error), 400)
    except CampaignExists:
        return campaign_list(form, f"A campaign with id '{typed_id}' already exists.", 409)
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id))


@bp.get("/campaigns/<campaign_id>")
def campaign(campaign_id: str):
    """Show one campaign: numbers, charts, breakdowns and a page of its recipients."""
    found = find_campaign(campaign_id)
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    search = search_arg()
    if search:
        total = store().count_recipients(campaign_id, state, search)
    else:
        total = found[state] if state else found["sent"]
    pager = Pager(page_arg(), total)
    series = timeline.opens_over_time(store().hourly_opens(campaign_id), found["first_injected_at"])
    bounds = [bound for bound, _ in timeline.FIRST_OPEN_BUCKETS]
    first_opens = timeline.first_open_histogram(store().first_open_counts(campaign_id, bounds))
    parts = breakdowns(store(), campaign_id)
    strata = open_strata(found, store().opened_signals(campaign_id))
    return render_template(
        "dashboard/campaign.html",
        campaign=found,
        cards=headline(found, estimated_open_rate(strata)),
        opens_chart=svg.opens_chart(series["hours"], series["days"]),
        first_open_chart=svg.histogram(first_opens, "Time from sending to first human open"),
        breakdowns=[
            (label, svg.horizontal_bars(breakdown_bars(parts.get(key, [])), label))
            for key, label in DIMENSIONS
        ],
        recipients=store().recipients(campaign_id, state, search, PAGE_SIZE, pager.offset),
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
    min_age_hours = hours_arg(request.args.get("min_age_hours"), "min_age_hours")
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
