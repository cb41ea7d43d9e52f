"""One message's page: its recipient, state and every open event."""

import json

from flask import abort, render_template

from app.dashboard.base import bp
from app.services import store


@bp.get("/messages/<message_id>")
def message(message_id: str):
    """Show a message with every open event, its verdict and the reason for it."""
    found = store().get_message(message_id)
    if found is None:
        abort(404, f"There is no message with id '{message_id}'.")
    campaign = store().get_campaign(found["campaign_id"])
    metadata = json.dumps(found["metadata"], indent=2) if found["metadata"] else None
    return render_template(
        "dashboard/message.html",
        message=found,
        campaign=campaign,
        metadata=metadata,
        clicks=store().message_clicks(message_id),
    )
