"""Signing in and out of the dashboard."""

import math
import secrets
import time

from flask import g, redirect, render_template, request, session, url_for

from app.core.users import password_matches, throttle_keys
from app.dashboard.base import SESSION_DAYS, bp, safe_next
from app.services import store


def clock() -> float:
    """Return the current Unix time (a function, so tests can move time along)."""
    return time.time()


@bp.route("/login", methods=["GET", "POST"])
def sign_in():
    """Show the sign-in form; sign in with an email and password, slowly after failures."""
    next_path = request.values.get("next", "")
    if request.method == "GET":
        if g.user is not None:
            return redirect(safe_next(next_path))
        return render_template("dashboard/sign_in.html", next=next_path)
    email = request.form.get("email", "").strip().lower()
    password = request.form.get("password", "")
    keys = throttle_keys(email, request.remote_addr)
    now = clock()
    locked_until = store().locked_until(keys)
    if locked_until > now:
        wait = math.ceil(locked_until - now)
        error = f"Too many failed sign-ins. Try again in {wait} seconds."
        page = render_template("dashboard/sign_in.html", next=next_path, email=email, error=error)
        return page, 429, {"Retry-After": str(wait)}
    user = store().user_by_email(email) if email else None
    if not password_matches(user["password_hash"] if user else None, password):
        store().record_failure(keys, now)
        error = "Wrong email or password."
        page = render_template("dashboard/sign_in.html", next=next_path, email=email, error=error)
        return page, 401
    store().clear_failures(keys[0])
    store().note_sign_in(user["id"])
    # A fresh session on sign-in: nothing chosen before it (a planted cookie) carries over.
    session.clear()
    session.permanent = True
    session["session"] = store().start_session(user["id"], SESSION_DAYS * 86400)
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(safe_next(next_path))


@bp.post("/logout")
def sign_out():
    """Sign out: end the session on every host, and forget the cookie."""
    if "session" in session:
        store().end_session(session["session"])
    session.clear()
    return redirect(url_for("dashboard.sign_in"))


@bp.post("/logout-everywhere")
def sign_out_everywhere():
    """End every session of the signed-in user, on every device, this one included."""
    store().end_user_sessions(g.user["id"])
    session.clear()
    return redirect(url_for("dashboard.sign_in"))
