"""Template filters that format the dashboard's numbers and times."""

from flask import Flask

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
    app.jinja_env.filters.update(when=when, percent=percent, number=number, state_label=state_label)
