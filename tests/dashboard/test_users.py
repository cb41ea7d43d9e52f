import pytest

from app import dashboard
from app.core.users import (
    FREE_TRIES,
    InvalidUser,
    hash_password,
    lock_seconds,
    normalise_email,
    password_matches,
    throttle_keys,
)


@pytest.fixture
def app(app):
    """The app with the dashboard registered."""
    dashboard.init_app(app)
    return app


@pytest.fixture
def users(app):
    """The store, which keeps the dashboard's users and sign-in counters."""
    return app.extensions["opentrack"].store


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt:") and first != second
    assert "correct horse" not in first
    assert password_matches(first, "correct horse")
    assert not password_matches(first, "correct horsE")
    assert not password_matches(None, "correct horse")


@pytest.mark.parametrize(
    ("email", "expected"),
    [(" Ann@Example.COM ", "ann@example.com"), ("bob@x", "bob@x")],
)
def test_normalise_email(email, expected):
    assert normalise_email(email) == expected


@pytest.mark.parametrize("email", ["", "ann", "@example.com", "ann@", "a b@example.com"])
def test_odd_emails_are_refused(email):
    with pytest.raises(InvalidUser):
        normalise_email(email)


def test_short_passwords_are_refused():
    with pytest.raises(InvalidUser, match="at least 10"):
        hash_password("short")


def test_lock_grows_after_the_free_tries():
    assert [lock_seconds(n) for n in range(FREE_TRIES)] == [0] * FREE_TRIES
    waits = [lock_seconds(n) for n in range(FREE_TRIES, FREE_TRIES + 4)]
    assert waits == [30, 60, 120, 240]
    assert lock_seconds(100) == 3600


def test_throttle_keys_name_email_and_ip():
    assert throttle_keys(" Ann@X.org", "10.0.0.1") == ["email:ann@x.org", "ip:10.0.0.1"]
    assert throttle_keys("ann@x.org", None) == ["email:ann@x.org"]


def test_failures_lock_then_are_forgotten(users):
    keys = ["email:ann@x.org", "ip:10.0.0.1"]
    for attempt in range(FREE_TRIES - 1):
        users.record_failure(keys, 1000 + attempt)
    assert users.locked_until(keys) == 0
    users.record_failure(keys, 1010)
    assert users.locked_until(keys) == 1010 + 30
    assert users.locked_until(["ip:10.0.0.1"]) == 1040
    users.record_failure(keys, 1050)
    assert users.locked_until(keys) == 1050 + 60
    # An hour later the old failures no longer count.
    users.record_failure(keys, 1050 + 3601)
    assert users.locked_until(keys) == 0
    users.clear_failures("email:ann@x.org")
    assert users.locked_until(["email:ann@x.org"]) == 0


def test_stale_failures_are_deleted(users, store):
    users.record_failure(["email:old@x.org"], 1000)
    users.record_failure(["email:new@x.org"], 1000 + 3601)
    keys = [row[0] for row in store.db.execute("SELECT key FROM sign_in_failures")]
    assert keys == ["email:new@x.org"]


def test_cli_creates_a_user_with_a_prompted_password(runner, users):
    result = runner.invoke(
        args=["users", "create", "Ann@Example.com"], input="a long password\na long password\n"
    )
    assert result.exit_code == 0, result.output
    user = users.user_by_email("ann@example.com")
    assert password_matches(user["password_hash"], "a long password")
    again = runner.invoke(args=["users", "create", "ann@example.com", "--generate-password"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_cli_generates_and_prints_a_password(runner, users):
    result = runner.invoke(args=["users", "create", "bob@example.com", "--generate-password"])
    assert result.exit_code == 0, result.output
    password = result.stdout.strip()
    assert len(password) >= 16 and "\n" not in password
    assert password_matches(users.user_by_email("bob@example.com")["password_hash"], password)


def test_cli_refuses_bad_input(runner, users):
    short = runner.invoke(args=["users", "create", "c@example.com"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least 10" in short.output
    odd = runner.invoke(args=["users", "create", "not-an-email", "--generate-password"])
    assert odd.exit_code != 0 and "not an email" in odd.output
    assert users.list_users() == []


def test_cli_lists_and_deletes_users(runner):
    assert "No dashboard users" in runner.invoke(args=["users", "list"]).output
    runner.invoke(args=["users", "create", "d@example.com", "--generate-password"])
    listed = runner.invoke(args=["users", "list"])
    assert "d@example.com" in listed.stdout and "scrypt" not in listed.stdout
    assert runner.invoke(args=["users", "delete", "D@example.com"]).exit_code == 0
    assert runner.invoke(args=["users", "delete", "d@example.com"]).exit_code != 0
