"""How much of a fetch's raw facts we keep: pure rules, applied after classification."""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from app.rules.networks import parse_ip

IP_MODES = ("full", "truncated", "none")
USER_AGENT_MODES = ("full", "parsed")
RAW_FIELDS = ("ip", "user_agent", "x_requested_with", "sec_purpose")
PRIVATE_NOTE = "; the client asked not to be tracked (Sec-GPC or DNT), so only this count is kept"


@lru_cache(maxsize=65536)
def truncate_ip(ip: str | None) -> str | None:
    """Return the network an IP is in: IPv4 (mapped ones too) to its /24, IPv6 to its /48."""
    parsed = parse_ip(ip)
    if parsed is None:
        return None
    version, value = parsed
    if version == 4:
        return str(ipaddress.IPv4Address(value & 0xFFFFFF00))
    return str(ipaddress.IPv6Address(value >> 80 << 80))


@dataclass(frozen=True)
class StoragePolicy:
    """The operator's choice of what raw facts to store with each event."""

    ip: str = "truncated"
    user_agent: str = "full"

    def __post_init__(self):
        if self.ip not in IP_MODES:
            raise ValueError(f"OPENTRACK_STORE_IP must be one of {', '.join(IP_MODES)}")
        if self.user_agent not in USER_AGENT_MODES:
            modes = ", ".join(USER_AGENT_MODES)
            raise ValueError(f"OPENTRACK_STORE_USER_AGENT must be one of {modes}")

    def apply(self, event: dict, private: bool = False) -> dict:
        """Return the event as it may be stored; country and network owner are already set."""
        if private:
            event.update(dict.fromkeys(RAW_FIELDS))
            event.update(client="unknown", client_version=None, os="unknown", device="unknown")
            event.update(country=None, asn=None, reason=event["reason"] + PRIVATE_NOTE)
            return event
        if self.ip == "none":
            event["ip"] = None
        elif self.ip == "truncated":
            event["ip"] = truncate_ip(event["ip"])
        if self.user_agent == "parsed":
            event.update(user_agent=None, x_requested_with=None, sec_purpose=None)
        return event
