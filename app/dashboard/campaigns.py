"""Campaign pages: the list, creating one, one campaign's numbers and its non-openers CSV."""

import math
import time
from datetime import date, timedelta

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.core import export, fields, timeline
from app.core.campaign_report import breakdowns, follow_up_reach
from app.core.estimate import estimated_open_rate, open_strata
from app.core.fields import FieldError
from app.core.stats import STATES, campaign_summary
from app.core.times import to_iso
from app.dashboard import charts, svg
from app.dashboard.base import PAGE_SIZE, Pager, base_url, bp, hours_arg, page_arg
from app.dashboard.compare import open_rate_trend
from app.dashboard.figures import DIMENSIONS, breakdown_bars, breakdown_rows, headline
from app.services import store
from app.store import CampaignExists
from app.store.campaigns import SORTS

MAX_SEARCH = 200
# A recipient search counts its matches up to this many, then says "more than".
SEARCH_COUNT_CAP = 10_000
# A paging cursor is a recipient address (at most 320 characters) or a time and a row number.
MAX_CURSOR = 400
# The follow-up form's default minimum age of the parent's messages, in hours.
DEFAULT_FOLLOW_UP_AGE = 48


def search_arg() -> str:
    """Return the search text of the query string, trimmed."""
    return request.args.get("q", "").strip()[:MAX_SEARCH]


def cursor_arg(name: str) -> str | None:
    """Return a paging cursor of the query string (``after`` or ``before``), or None."""
    raw = request.args.get(name, "")
    return raw if 0 < len(raw) <= MAX_CURSOR else None


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


@bp.app_template_global()
def campaign_sent(campaign_id: str) -> int:
    """Return how many messages a campaign has registered (0 when it is gone)."""
    campaign = store().get_campaign(campaign_id)
    return campaign["sent"] if campaign else 0


@bp.get("/")
def index():
    """Send the dashboard's front door to the campaign list."""
    return redirect(url_for("dashboard.campaigns"))


@bp.get("/campaigns")
def campaigns():
    """List campaigns, newest first, with their numbers side by side."""
    return campaign_list()


def date_arg(name: str) -> str:
    """Return a YYYY-MM-DD date of the query string, or "" when missing or not a date."""
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw).isoformat() if len(raw) == 10 else ""
    except ValueError:
        return ""


def sort_url(key: str) -> str:
    """Return the campaign list's URL sorted by a column: descending first, then ascending."""
    # url_for reads keys starting with "_" as its own options (_method, _anchor, ...).
    query = {
        k: v
        for k, v in request.args.items()
        if k not in ("sort", "order", "page") and not k.startswith("_")
    }
    current = request.args.get("sort", "created") == key
    ascending = current and request.args.get("order", "desc") != "asc"
    return url_for("dashboard.campaigns", **query, sort=key, order="asc" if ascending else "desc")


def campaign_list(form: dict | None = None, error: str | None = None, status: int = 200):
    """Render the campaign list, with the create form's values and error when it failed."""
    search = search_arg()
    archived = request.args.get("archived", "") in ("1", "true", "on", "yes")
    sort = request.args.get("sort", "created")
    sort = sort if sort in SORTS else "created"
    descending = request.args.get("order", "desc") != "asc"
    typed_from, typed_to = date_arg("from"), date_arg("to")
    sent = (
        f"{typed_from}T00:00:00" if typed_from else None,
        (date.fromisoformat(typed_to) + timedelta(days=1)).isoformat() if typed_to else None,
    )
    pager = Pager(page_arg(), store().count_campaigns(search, archived, sent))
    rows = store().list_campaigns(PAGE_SIZE, pager.offset, search, archived, sort, descending, sent)
    trend_chart, trend = open_rate_trend()
    page = render_template(
        "dashboard/campaigns.html",
        campaigns=[campaign_summary(row) for row in rows],
        parents=store().parents_of([row["id"] for row in rows]),
        trend_chart=trend_chart,
        trend=trend,
        sort=sort,
        descending=descending,
        sent_from=typed_from,
        sent_to=typed_to,
        sort_url=sort_url,
        pager=pager,
        search=search,
        archived=archived,
        hidden=store().count_campaigns(search, True, sent) - pager.total if not archived else 0,
        deleted=request.args.get("deleted", "")[:64],
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
    return campaign_page(campaign_id)


def free_follow_up_id(campaign_id: str) -> str:
    """Return an id for a follow-up of this campaign that no campaign has yet."""
    base = f"{campaign_id[:56]}-resend"
    candidate, number = base, 1
    while store().get_campaign(candidate) is not None:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def follow_up_preview(campaign_id: str, age_hours: float = DEFAULT_FOLLOW_UP_AGE) -> dict:
    """Return how many recipients a follow-up made now would go to, without and with unknown."""
    cutoff = to_iso(time.time() - age_hours * 3600)
    count = store().count_non_openers
    not_opened = count(campaign_id, ("not_opened",), cutoff)
    return {
        "age_hours": age_hours,
        "not_opened": not_opened,
        "with_unknown": not_opened + count(campaign_id, ("unknown",), cutoff),
    }


def zone_arg() -> tuple[str, str | None]:
    """Return the time zone the charts use (?tz=, else the setting), and an error if ?tz= is odd."""
    default = current_app.config["DASHBOARD_TIME_ZONE"]
    asked = request.args.get("tz", "").strip()
    if not asked:
        return default, None
    if charts.zone(asked) is None:
        return default, f"There is no time zone called '{asked[:64]}'; showing {default}."
    return asked, None


def preview_age() -> float:
    """Return the follow-up age asked for by the form's Preview button (the default if none)."""
    raw = request.args.get("follow_up_age_hours", "")
    try:
        return fields.age_hours(float(raw), "follow_up_age_hours")
    except (ValueError, FieldError):
        return DEFAULT_FOLLOW_UP_AGE


def campaign_page(
    campaign_id: str,
    manage_error: str | None = None,
    status: int = 200,
    follow_up_error: str | None = None,
    follow_up_form: dict | None = None,
):
    """Render a campaign's page, with the error of a lifecycle or follow-up form if one failed."""
    found = find_campaign(campaign_id)
    state = request.args.get("state", "")
    state = state if state in STATES else ""
    search = search_arg()
    page = page_arg()
    after, before = cursor_arg("after"), cursor_arg("before")
    capped = False
    if search:
        # Counted up to a bound: a one-letter search matches most of a campaign.
        total = store().count_recipients(campaign_id, state, search, cap=SEARCH_COUNT_CAP)
        capped = total > SEARCH_COUNT_CAP
        if capped and not (after or before):
            # Without a cursor a page is an offset into the matches: no deeper than counted.
            page = min(page, math.ceil(total / PAGE_SIZE))
    else:
        total = found[state] if state else found["sent"]
    pager = Pager(page, total, capped=capped)
    recipients = store().recipients(
        campaign_id,
        state,
        search,
        PAGE_SIZE + 1 if capped else PAGE_SIZE,
        pager.offset,
        total=None if capped else pager.total,
        after=after,
        before=before,
    )
    if capped and not before:
        pager.more = len(recipients) > PAGE_SIZE
        recipients = recipients[:PAGE_SIZE]
    elif capped:
        recipients = recipients[-PAGE_SIZE:]
    if recipients:
        pager.first_cursor, pager.last_cursor = recipients[0]["cursor"], recipients[-1]["cursor"]
    hourly = store().hourly_opens(campaign_id)
    zone_name, zone_error = zone_arg()
    tz = charts.zone(zone_name)
    by = request.args.get("by", "")
    by = by if by in charts.BY else charts.default_by(hourly, found["first_injected_at"])
    make_points = charts.hour_points if by == "hour" else charts.day_points
    points = charts.label_points(make_points(hourly, found["first_injected_at"], tz), by)
    first_opens = timeline.first_open_histogram(store().first_open_counts(campaign_id))
    parts = breakdowns(store(), campaign_id)
    fetches = request.args.get("breakdown") == "fetches"
    empty = "No fetches yet" if fetches else "No human openers yet"
    strata = open_strata(found, store().opened_signals(campaign_id))
    return render_template(
        "dashboard/campaign.html",
        campaign=found,
        cards=headline(found, estimated_open_rate(strata)),
        opens_chart=svg.time_chart(points, by, zone_name),
        points=points,
        by=by,
        zone_name=zone_name,
        zone_error=zone_error,
        first_opens=first_opens,
        first_open_chart=svg.histogram(
            first_opens,
            "Time from sending to first human open",
            "Time from sending to the first human open",
            "Messages",
        ),
        fetches=fetches,
        breakdowns=[
            (label, svg.horizontal_bars(bars, label, empty=empty), bars)
            for key, label in DIMENSIONS
            for bars in [breakdown_bars(breakdown_rows(parts, key, fetches))]
        ],
        recipients=recipients,
        pager=pager,
        state=state,
        search=search,
        states=STATES,
        base_url=base_url(),
        manage_error=manage_error,
        follow_up_error=follow_up_error,
        follow_up_form=follow_up_form or {"id": free_follow_up_id(campaign_id)},
        preview=follow_up_preview(campaign_id, preview_age()),
        own_follow_up=store().get_follow_up(campaign_id),
        follow_ups=[
            follow_up_reach(store(), settings)
            for settings in map(store().get_follow_up, store().follow_up_ids(campaign_id))
            if settings is not None
        ],
    ), status


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
