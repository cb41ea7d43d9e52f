"""Judge one pixel fetch: which client made it, and whether a person or a machine did."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from app.rules.mail_clients import Client, android_app, identify
from app.rules.networks import Match, Networks, load_geo, lookup_geo

PROXY_REASONS = {
    "gmail_proxy": "Gmail's image proxy (GoogleImageProxy) fetches when a person views the "
    "message; it hides the device",
    "yahoo_proxy": "Yahoo/AOL Mail's image proxy fetches when a person views the message; "
    "it hides the device",
    "fastmail_proxy": "Fastmail's image proxy fetches when a person views the message; "
    "it hides the device",
    "hey_proxy": "HEY's image proxy fetches when a person views the message; it hides the device",
}
PREFETCH_PURPOSE = re.compile(r"prefetch|prerender", re.IGNORECASE)

# Mail-security vendors: their fetches soon after sending are scans (research §3.2).
SCANNER_ASNS = re.compile(
    r"^AS(?:22843|26211|52129|30031|39588|42427|60492|16417)\b|PROOFPOINT|MIMECAST|IRONPORT",
    re.IGNORECASE,
)
# Hosting networks that no mail reader sits behind. Microsoft, Google, Akamai, Cloudflare
# and Fastly stay off this list: Outlook on the web, Gmail's proxy and Apple's Private
# Relay fetch for people from there.
DATACENTER_ASNS = re.compile(
    r"^AS(?:16509|14618|8987|396982|14061|24940|16276|63949|20473|31898|45102|132203|"
    r"12876|51167|60781|28753|9009|36352|202425)\b|"
    r"AMAZON|DIGITALOCEAN|HETZNER|\bOVH|LINODE|CHOOPA|VULTR|ORACLE-BMC|GOOGLE-CLOUD|"
    r"ALIBABA|TENCENT|CONTABO|LEASEWEB|M247|COLOCROSSING|SCALEWAY",
    re.IGNORECASE,
)


# Fetch and Verdict are frozen dataclasses with their own __init__: the generated one of a
# frozen dataclass sets each field through object.__setattr__, which made building the two a
# tenth of an unseen user agent's line; filling the instance's __dict__ directly is three times
# quicker, and everything else (frozen, eq, hash, repr, fields, replace, orjson) is the same.


@dataclass(frozen=True, init=False)
class Fetch:
    """The facts of one pixel request that the classifier reads."""

    user_agent: str = ""
    ip: str | None = None
    method: str = "GET"
    # Lower-case keys; the pixel path passes x-requested-with, sec-purpose and purpose.
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds_since_send: float | None = None
    # Set by the caller when one network fetched many messages' pixels within seconds.
    burst: bool = False

    def __init__(
        self,
        user_agent: str = "",
        ip: str | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        seconds_since_send: float | None = None,
        burst: bool = False,
    ) -> None:
        values = self.__dict__
        values["user_agent"] = user_agent
        values["ip"] = ip
        values["method"] = method
        values["headers"] = {} if headers is None else headers
        values["seconds_since_send"] = seconds_since_send
        values["burst"] = burst


def fetch_headers(x_requested_with: str | None, purpose: str | None) -> dict[str, str]:
    """Return the selected request headers the classifier reads."""
    headers = {}
    if x_requested_with:
        headers["x-requested-with"] = x_requested_with
    if purpose:
        headers["sec-purpose"] = purpose
    return headers


@dataclass(frozen=True, init=False)
class Verdict:
    """Who fetched a pixel, whether a person or a machine did, and why we think so."""

    client: str
    client_version: str | None
    os: str
    device: str
    verdict: str
    source: str
    reason: str
    country: str | None = None
    asn: str | None = None

    def __init__(
        self,
        client: str,
        client_version: str | None,
        os: str,
        device: str,
        verdict: str,
        source: str,
        reason: str,
        country: str | None = None,
        asn: str | None = None,
    ) -> None:
        values = self.__dict__
        values["client"] = client
        values["client_version"] = client_version
        values["os"] = os
        values["device"] = device
        values["verdict"] = verdict
        values["source"] = source
        values["reason"] = reason
        values["country"] = country
        values["asn"] = asn

    def as_dict(self) -> dict:
        """Return the verdict as a plain dict of its fields."""
        # A shallow copy: every field is a plain value, and asdict's deep copy is slow.
        return dict(self.__dict__)


def _header(fetch: Fetch, name: str) -> str:
    headers = fetch.headers
    if not headers:
        return ""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), "")
    return value if isinstance(value, str) else ""


def _describe(match: Match | None) -> str:
    return f" ({match.owner})" if match else ""


def _judge(
    fetch: Fetch,
    client: Client,
    match: Match | None,
    asn: str | None,
    window: float,
) -> tuple[str, str, str]:
    """Return (verdict, source, reason) by the rules of research/machine_opens.md."""
    method = fetch.method
    if method != "GET":
        method = (method or "GET").upper()
    purpose = (_header(fetch, "sec-purpose") or _header(fetch, "purpose")) if fetch.headers else ""
    if method == "HEAD":
        return "machine", "prefetch", "A HEAD request checks the image without showing it"
    if purpose and PREFETCH_PURPOSE.search(purpose):
        return "machine", "prefetch", f"The request announced itself as a {purpose.strip()}"
    kind = client.kind
    if kind == "gmail_prefetch":
        return (
            "machine",
            "gmail_prefetch",
            "Gmail's prefetcher (fixed user agent ending Edge/12.246) loads images before "
            "anyone reads the message",
        )
    if kind in PROXY_REASONS:
        return "human", kind, PROXY_REASONS[kind]
    if kind == "mail_proxy":
        return (
            "human",
            "mail_proxy",
            f"{client.name}'s image proxy fetches when a person views the message; it hides "
            "the device",
        )
    if kind == "scanner":
        return "machine", "scanner", f"{client.name} is a mail security scanner's user agent"
    if match is not None and match.kind == "scanner":
        return "machine", "scanner", f"The IP belongs to a mail security scanner{_describe(match)}"
    if kind == "apple_mpp":
        if match is not None and match.kind == "apple_relay":
            where = "from Apple's Private Relay egress network"
        else:
            where = "(IP not in the loaded Apple Private Relay ranges)"
        return (
            "machine",
            "apple_mpp",
            f"User agent exactly 'Mozilla/5.0' {where}: Apple Mail Privacy Protection "
            "loads images whether or not the person opens the message",
        )
    if match is not None and match.kind == "outlook_proxy":
        return (
            "human",
            "outlook_proxy",
            f"Outlook on the web fetches images through Exchange Online{_describe(match)} "
            "when a person views the message",
        )
    if kind == "bot":
        if client.evidence:
            return "machine", "bot", f"A machine's user agent: {client.evidence}"
        name = f" ({client.name})" if client.name != "unknown" else ""
        return "machine", "bot", f"The user agent is a crawler or link-preview bot{name}"
    if not fetch.user_agent or not fetch.user_agent.strip():
        return "machine", "bot", "No user agent: mail clients always send one"
    if fetch.burst:
        return (
            "machine",
            "scanner",
            "Burst: the same network fetched many different messages' pixels within seconds",
        )
    early = fetch.seconds_since_send is not None and fetch.seconds_since_send < window
    if early:
        seconds = f"{max(fetch.seconds_since_send, 0):.0f}"
        if asn and SCANNER_ASNS.search(asn):
            return (
                "machine",
                "scanner",
                f"Fetched {seconds} s after sending from a mail security vendor's network ({asn})",
            )
        datacenter = match.owner if match is not None and match.kind == "datacenter" else None
        if datacenter is None and asn and DATACENTER_ASNS.search(asn):
            datacenter = asn
        if datacenter:
            return (
                "machine",
                "scanner",
                f"Fetched {seconds} s after sending from a datacenter network ({datacenter}), "
                "as gateway scanners do",
            )
    return "human", "direct", _direct_reason(client)


def _direct_reason(client: Client) -> str:
    if client.kind == "client":
        return f"{client.name} loaded the image directly"
    if client.kind == "browser":
        return f"A web browser ({client.name}) loaded the image directly, e.g. webmail"
    return "A client we cannot name loaded the image directly"


def classify(
    fetch: Fetch, networks: Networks | None = None, scanner_window_seconds: float = 60
) -> Verdict:
    """Return the verdict on one pixel fetch; never raises on odd input."""
    user_agent = fetch.user_agent if isinstance(fetch.user_agent, str) else ""
    client = identify(user_agent)
    app = android_app(_header(fetch, "x-requested-with")) if fetch.headers else None
    if app is not None and client.kind in ("webview", "unknown", "client", "browser"):
        version = client.version if app == client.name else None
        os = "Android" if client.os == "unknown" else client.os
        client = replace(client, name=app, version=version, os=os, kind="client")
    match, country, asn = None, None, None  # and so without an IP
    if fetch.ip and networks is not None:
        match, country, asn = networks.facts(fetch.ip)
    elif fetch.ip:
        country, asn = lookup_geo(fetch.ip)
    verdict, source, reason = _judge(fetch, client, match, asn, scanner_window_seconds)

    name, version, os, device = client.name, client.version, client.os, client.device
    if source == "outlook_proxy":
        name, version, os, device = "Outlook on the web", None, "unknown", "unknown"
    elif source == "scanner" and match is not None and match.kind == "scanner":
        name, version, os, device = match.owner, None, "unknown", "unknown"
    return Verdict(name, version, os, device, verdict, source, reason, country, asn)


# Common shapes (a desktop and a phone browser, Apple Mail on iOS, an Android tablet, Outlook,
# a crawler, an HTTP library), judged once by `warm_up` only to run each code path; what they
# are judged does not matter, and their answers are not kept.
WARM_UP_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
)


def warm_up(networks: Networks | None = None) -> float:
    """Do the classifier's one-time work now; return the seconds it took.

    Call it once at the start of a long-lived process that classifies (`opentrack classify`,
    `opentrack ingest`, gunicorn's master before it forks the workers whose writer threads
    classify), so that the first fetches are not the ones that pay for it: ua-parser's Rust
    resolver and its three extractors (a few hundred milliseconds), the two device-family
    screens of `agents.device_type`, and the geo data (`networks.load_geo`, which also moves
    what was loaded out of the garbage collector's passes). A few common shapes are then
    judged to run each path once; their answers are dropped from the memos.
    """
    from app.rules import agents

    started = time.perf_counter()
    for extract in agents._extractors():
        extract(WARM_UP_AGENTS[0])
    for names in (agents._TABLETS, agents._TYPED):
        agents._may_name(WARM_UP_AGENTS[0], names)
    load_geo(networks.mmdb_paths if networks is not None else ())
    for number, agent in enumerate(WARM_UP_AGENTS):
        fetch = Fetch(agent, ip=f"192.0.2.{number + 1}", seconds_since_send=3600)
        classify(fetch, networks)
    identify.cache_clear()
    lookup_geo.cache_clear()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started
