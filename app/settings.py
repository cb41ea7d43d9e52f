"""Every setting Opentrack reads, with its default and what it is for.

Each name below is read from the environment as ``OPENTRACK_<NAME>`` (Flask's
``from_prefixed_env``); ``tests/test_docs.py`` fails when one is missing from docs/settings.md.
"""

SETTINGS: dict[str, tuple[object, str]] = {
    "INSTANCE_PATH": (
        None,
        "Folder for the database, generated secret, spool and network data; "
        "default `instance/` beside the `app` package.",
    ),
    "DATABASE": (
        None,
        "Path of the SQLite database (default `<instance>/opentrack.db`), or a "
        "`postgresql://user:pass@host:port/db` URL to use PostgreSQL.",
    ),
    "SPOOL_DIR": (
        None,
        "Folder of this instance's spool of pixel fetches not yet stored: persistent storage "
        "of its own per instance. Default: `<database>-spool` beside a SQLite file, "
        "`<instance>/spool` on PostgreSQL.",
    ),
    "SECRET_KEYS": (
        None,
        "Comma-separated signing secrets; the last signs, all verify. "
        "Default: generated once into `<instance>/secret_keys`; required on PostgreSQL, where "
        "every instance must sign alike.",
    ),
    "BASE_URL": (
        None,
        "Public origin used in pixel URLs (e.g. `https://t.example.com`); "
        "default: the origin the inject request came in on.",
    ),
    "PROXY_HOPS": (0, "Reverse-proxy hops to trust for `X-Forwarded-For`; 0 trusts none."),
    "MAX_REQUEST_BYTES": (
        64 * 1024 * 1024,
        "Largest request body accepted; the default admits 1,000 messages of 60 KB.",
    ),
    "MAX_BATCH": (1000, "Most messages one inject call may carry."),
    "SCANNER_WINDOW_SECONDS": (
        60,
        "Fetches this soon after injection from a datacenter network count as scanners.",
    ),
    "GEOIP_MMDB": (
        None,
        "Comma-separated paths of MaxMind-format .mmdb files (country, ASN) to prefer over the "
        "bundled geoip2fast data.",
    ),
    "STORE_IP": (
        "truncated",
        "`full`, `truncated` (IPv4 /24, IPv6 /48) or `none`: how much of a fetch's IP is stored.",
    ),
    "STORE_USER_AGENT": (
        "full",
        "`full`, or `parsed` to keep only the parsed client, OS, device, verdict and reason.",
    ),
    "HONOR_GPC": (
        True,
        "Record a fetch sending `Sec-GPC: 1` or `DNT: 1` as a count only, without IP or user "
        "agent.",
    ),
    "RETENTION_DAYS": (
        None,
        "Strip IP, user agent and headers from events older than this many days (`opentrack "
        "purge`); unset keeps them.",
    ),
    "FLUSH_SECONDS": (
        0.05,
        "How often each web worker moves recorded pixel fetches from its spool into the database.",
    ),
    "INGEST_NICE": (
        10,
        "How much `opentrack ingest` lowers its CPU priority (0-19, as `nice`): under load the "
        "web workers answer first and the ingester stores what they spooled in the CPU they "
        "leave.",
    ),
    "DASHBOARD_TIME_ZONE": (
        "UTC",
        "The IANA time zone the dashboard's charts show clock times in (`Europe/Berlin`); a "
        "page's `?tz=` overrides it.",
    ),
    "WEBHOOK_ALLOW_PRIVATE": (
        False,
        "Allow webhook URLs on private, loopback or link-local addresses (tests, a receiver on "
        "your own network); refused by default.",
    ),
    "WEBHOOK_TIMEOUT_SECONDS": (10, "How long the worker waits for a webhook receiver to answer."),
    "WEBHOOK_RETRY_HOURS": (
        72,
        "How long a failing webhook delivery is retried (exponential backoff with jitter).",
    ),
    "FOLLOW_UP_LIST_HOURS": (
        168,
        "How long the signed download address of a follow-up rule's list works (no API key "
        "needed); refused with 410 after.",
    ),
    "SUPPRESS_BOUNCES": (
        False,
        "Put hard-bounced and complaining recipients on the suppression list when their "
        "delivery event arrives (reason `hard_bounce` or `complaint`).",
    ),
    "SES_TOPIC_ARNS": (
        None,
        "Comma-separated SNS topic ARNs whose signed SES notifications are accepted; unset "
        "accepts any topic whose signature verifies.",
    ),
    "SENDGRID_PUBLIC_KEY": (
        None,
        "SendGrid's Event Webhook verification key (base64 DER or PEM); unset refuses SendGrid "
        "posts.",
    ),
    "MAILGUN_SIGNING_KEY": (
        None,
        "Mailgun's HTTP webhook signing key; unset refuses Mailgun posts.",
    ),
    "POSTMARK_CREDENTIALS": (
        None,
        "`user:password` written into the Postmark webhook URL (basic auth); unset refuses "
        "Postmark posts.",
    ),
}


def defaults() -> dict[str, object]:
    """Return the default value of every setting."""
    return {name: default for name, (default, _) in SETTINGS.items()}


# Settings read as numbers or switches. An environment value arrives as a string whenever it
# is not JSON ("yes", "off", "False"), so each is parsed here, once, and a bad one stops the
# start-up with a message instead of being taken as true.
KINDS = {
    "PROXY_HOPS": int,
    "MAX_REQUEST_BYTES": int,
    "MAX_BATCH": int,
    "SCANNER_WINDOW_SECONDS": float,
    "FLUSH_SECONDS": float,
    "INGEST_NICE": int,
    "RETENTION_DAYS": float,
    "WEBHOOK_TIMEOUT_SECONDS": float,
    "WEBHOOK_RETRY_HOURS": float,
    "FOLLOW_UP_LIST_HOURS": float,
    "HONOR_GPC": bool,
    "WEBHOOK_ALLOW_PRIVATE": bool,
    "SESSION_COOKIE_SECURE": bool,
    "SUPPRESS_BOUNCES": bool,
}
# Upper bounds of the number settings that have one.
LARGEST = {"INGEST_NICE": 19}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def coerce(config: dict) -> None:
    """Turn number and switch settings into numbers and booleans; raise ValueError if odd."""
    for name, kind in KINDS.items():
        if config.get(name) is not None:
            config[name] = _parse(name, config[name], kind)


def _parse(name: str, value: object, kind: type) -> object:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ValueError(f"OPENTRACK_{name} must be true or false, not {value!r}")
    try:
        if isinstance(value, bool):
            raise ValueError
        number = kind(str(value).strip()) if isinstance(value, str) else kind(value)
    except ValueError:
        raise ValueError(f"OPENTRACK_{name} must be a number, not {value!r}") from None
    # NaN is the one value not equal to itself.
    if number < 0 or number != number:
        raise ValueError(f"OPENTRACK_{name} must be a number of at least 0, not {value!r}")
    if number > LARGEST.get(name, number):
        raise ValueError(f"OPENTRACK_{name} must be at most {LARGEST[name]}, not {value!r}")
    return number
