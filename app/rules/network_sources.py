"""Parse the published IP range lists into (cidr, kind, owner) rows."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

Range = tuple[str, str, str]
CIDR_SHAPE = re.compile(r"^[0-9A-Fa-f:.]+(?:/\d{1,3})?$")

APPLE_RELAY = "Apple iCloud Private Relay"
MICROSOFT_SCANNER = "Microsoft Defender for Office 365 / EOP"
MICROSOFT_EXCHANGE = "Microsoft Exchange Online"

# Gateways named in research/machine_opens.md §3.2 (warmbly scanner-networks.txt, Barracuda).
# Exchange Online Protection's filtering tier (endpoint sets 9 and 10) also arrives with the
# Microsoft 365 endpoints file; it is repeated here so a fresh install knows it.
BUILTIN_SCANNER_RANGES = """\
# CIDR,kind,owner
40.92.0.0/15,scanner,Microsoft Defender for Office 365 / EOP
40.107.0.0/16,scanner,Microsoft Defender for Office 365 / EOP
52.100.0.0/14,scanner,Microsoft Defender for Office 365 / EOP
52.238.78.88/32,scanner,Microsoft Defender for Office 365 / EOP
104.47.0.0/17,scanner,Microsoft Defender for Office 365 / EOP
2a01:111:f400::/48,scanner,Microsoft Defender for Office 365 / EOP
2a01:111:f403::/48,scanner,Microsoft Defender for Office 365 / EOP
3.24.133.128/25,scanner,Barracuda Email Gateway Defense
15.222.16.128/25,scanner,Barracuda Email Gateway Defense
35.157.190.224/27,scanner,Barracuda Email Gateway Defense
18.185.115.192/26,scanner,Barracuda Email Gateway Defense
18.184.203.224/27,scanner,Barracuda Email Gateway Defense
13.200.136.128/25,scanner,Barracuda Email Gateway Defense
35.176.92.96/27,scanner,Barracuda Email Gateway Defense
18.133.136.128/26,scanner,Barracuda Email Gateway Defense
18.133.136.96/27,scanner,Barracuda Email Gateway Defense
209.222.82.0/24,scanner,Barracuda Email Gateway Defense
"""


def parse_network_lines(text: str) -> list[Range]:
    """Parse `CIDR,kind,owner` lines; blank lines and `#` comments are skipped."""
    rows: list[Range] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(",", 2)]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"expected CIDR,kind,owner: {line!r}")
        owner = parts[2] if len(parts) == 3 and parts[2] else parts[1]
        rows.append((parts[0], parts[1], owner))
    return rows


def parse_apple_egress_csv(text: str) -> list[Range]:
    """Parse Apple's egress-ip-ranges.csv (`CIDR,country,region,city` rows)."""
    rows: list[Range] = []
    for record in csv.reader(io.StringIO(text)):
        if record and CIDR_SHAPE.match(record[0].strip()):
            rows.append((record[0].strip(), "apple_relay", APPLE_RELAY))
    if not rows and text.strip():
        raise ValueError("no ranges found in the Apple egress CSV")
    return rows


def parse_microsoft_endpoints_json(text: str) -> list[Range]:
    """Parse the Microsoft 365 endpoints JSON; keep Exchange Online's ranges."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of Microsoft 365 endpoint sets")
    rows: list[Range] = []
    for endpoint_set in data:
        if not isinstance(endpoint_set, dict) or endpoint_set.get("serviceArea") != "Exchange":
            continue
        urls = " ".join(endpoint_set.get("urls") or ())
        if "protection.outlook.com" in urls or "mx.microsoft" in urls:
            kind, owner = "scanner", MICROSOFT_SCANNER
        elif "outlook.office" in urls:
            # Outlook on the web fetches remote images through these ranges, so a fetch
            # from them is a person reading (research §2.3), not a scanner.
            kind, owner = "outlook_proxy", MICROSOFT_EXCHANGE
        else:
            continue
        rows.extend((ip, kind, owner) for ip in endpoint_set.get("ips") or ())
    return rows


def parse_aws_ip_ranges_json(text: str) -> list[Range]:
    """Parse AWS ip-ranges.json into datacenter ranges."""
    data = json.loads(text)
    rows: list[Range] = [
        (prefix["ip_prefix"], "datacenter", "Amazon Web Services")
        for prefix in data.get("prefixes", ())
    ]
    rows.extend(
        (prefix["ipv6_prefix"], "datacenter", "Amazon Web Services")
        for prefix in data.get("ipv6_prefixes", ())
    )
    return rows


def parse_google_cloud_json(text: str) -> list[Range]:
    """Parse Google Cloud's cloud.json into datacenter ranges."""
    data = json.loads(text)
    rows: list[Range] = []
    for prefix in data.get("prefixes", ()):
        cidr = prefix.get("ipv4Prefix") or prefix.get("ipv6Prefix")
        if cidr:
            rows.append((cidr, "datacenter", "Google Cloud"))
    return rows


@dataclass(frozen=True)
class Source:
    """One published range list: where it is saved, where it comes from, how to read it."""

    filename: str
    url: str | None
    parse: Callable[[str], list[Range]]


SOURCES: dict[str, Source] = {
    "apple": Source(
        "apple-egress-ip-ranges.csv",
        "https://mask-api.icloud.com/egress-ip-ranges.csv",
        parse_apple_egress_csv,
    ),
    "microsoft": Source(
        "microsoft-365-endpoints.json",
        "https://endpoints.office.com/endpoints/worldwide"
        "?clientrequestid=b10c5ed1-bad1-445f-b386-b919946339a7",
        parse_microsoft_endpoints_json,
    ),
    "aws": Source(
        "aws-ip-ranges.json",
        "https://ip-ranges.amazonaws.com/ip-ranges.json",
        parse_aws_ip_ranges_json,
    ),
    "google-cloud": Source(
        "google-cloud.json", "https://www.gstatic.com/ipranges/cloud.json", parse_google_cloud_json
    ),
    "scanners": Source("scanners.txt", None, parse_network_lines),
}
