"""Template filters that format the dashboard's numbers and times."""

from flask import Flask
from markupsafe import Markup

from app.dashboard.figures import source_name

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

STATE_LABELS = {
    "opened": "Opened",
    "unknown": "Unknown",
    "not_opened": "Not opened",
    "untracked": "Untracked",
}


def when(value: str | None) -> str:
    """Return a stored time as 'YYYY-MM-DD HH:MM:SS UTC', or '–' when there is none."""
    if not value:
        return "–"
    return f"{value[:10]} {value[11:19]} UTC"


def short_when(value: str | None) -> Markup:
    """Return a stored time as a short date, the exact time on hover; '–' when there is none."""
    if not value:
        return Markup("–")
    day = f"{int(value[8:10])} {MONTHS[int(value[5:7]) - 1]} {value[:4]}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value, when(value), day)


def percent(value: float | None) -> str:
    """Return a rate as a percentage with one decimal, or '–' when it has no denominator."""
    return "–" if value is None else f"{value:.1%}"


def number(value: int | float | None) -> str:
    """Return a count with thousands separators."""
    return "–" if value is None else f"{value:,}"


def state_label(state: str) -> str:
    """Return a message state as people read it."""
    return STATE_LABELS.get(state, state)


def register(app: Flask) -> None:
    """Make the filters available to every template."""
    app.jinja_env.filters.update(
        when=when,
        short_when=short_when,
        source_name=source_name,
        percent=percent,
        number=number,
        state_label=state_label,
    )
