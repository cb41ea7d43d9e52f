"""The API keys page: list, create (the key is shown once) and revoke."""

from flask import redirect, render_template, request, url_for

from app.core import fields
from app.core.fields import FieldError
from app.core.keys import new_api_key
from app.dashboard.base import bp
from app.services import store
from app.store import NameTaken


def keys_page(new_key: str | None = None, error: str | None = None, status: int = 200):
    """Render the keys page, with a just-created key or an error when there is one."""
    page = render_template(
        "dashboard/keys.html", keys=store().list_api_keys(), new_key=new_key, error=error
    )
    # A page showing a fresh key must not be kept by any cache or restored from history.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/keys")
def keys():
    """List API keys: names, prefixes, created, last used and revoked times."""
    return keys_page()


@bp.post("/keys")
def create_key():
    """Create an API key and show it once."""
    try:
        name = fields.key_name(request.form.get("name", ""))
    except FieldError:
        error = f"A key needs a name of 1-{fields.MAX_KEY_NAME} printable characters."
        return keys_page(error=error, status=400)
    key = new_api_key()
    try:
        store().create_api_key(name, key)
    except NameTaken:
        return keys_page(error=f"An API key called '{name}' already exists.", status=409)
    return keys_page(new_key={"name": name, "key": key}, status=201)


@bp.post("/keys/revoke")
def revoke_key():
    """Revoke the named API key."""
    name = request.form.get("name", "")
    if not store().revoke_api_key(name):
        return keys_page(error=f"There is no active API key called '{name}'.", status=404)
    return redirect(url_for("dashboard.keys"))
