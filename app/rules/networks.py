"""Hold the IP ranges the operator refreshes and answer who owns an address."""

from __future__ import annotations

import bisect
import gc
import ipaddress
import logging
import os
import socket
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from app.rules.network_sources import BUILTIN_SCANNER_RANGES, SOURCES, Range, parse_network_lines

log = logging.getLogger(__name__)

# When two identical ranges carry different kinds, the more telling kind wins.
KIND_PRIORITY = {
    "scanner": 5,
    "apple_relay": 4,
    "outlook_proxy": 3,
    "mail_proxy": 3,
    "datacenter": 1,
}


@dataclass(frozen=True)
class Match:
    """Who owns an address range, and what kind of network it is."""

    kind: str
    owner: str


def parse_ip(ip: str | None) -> tuple[int, int] | None:
    """Return (4 or 6, address as int) for an IP string, or None if it is not one."""
    if not ip or not isinstance(ip, str):
        return None
    text = ip.strip().strip("[]")
    if "%" in text:
        text = text.split("%", 1)[0]
    # inet_pton is a C call, some twenty times cheaper than ipaddress on the pixel's hot path.
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 == 0xFFFF:  # an IPv4-mapped address, ::ffff:a.b.c.d
        return 4, value & 0xFFFFFFFF
    return 6, value


def parse_cidr(cidr: str) -> tuple[int, int, int]:
    """Return (version, first, last) for a CIDR or bare address; raise ValueError."""
    network = ipaddress.ip_network(cidr.strip(), strict=False)
    first = int(network.network_address)
    return network.version, first, first + network.num_addresses - 1


class _Table:
    """Disjoint, sorted segments of one address family, searched with bisect."""

    def __init__(self, spans: list[tuple[int, int, int, Match]]) -> None:
        # CIDR blocks are nested or disjoint, so a stack sweep flattens them into
        # disjoint segments where the innermost (most specific) block wins; of identical
        # blocks the one with the highest priority is pushed last and wins.
        spans.sort(key=lambda s: (s[0], -s[1], s[2]))
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.matches: list[Match] = []
        stack: list[tuple[int, Match]] = []
        position = 0
        for start, end, _, match in spans:
            while stack and stack[-1][0] < start:
                top_end, top_match = stack.pop()
                self._emit(position, top_end, top_match)
                position = top_end + 1
            if stack:
                self._emit(position, start - 1, stack[-1][1])
            stack.append((end, match))
            position = start
        while stack:
            top_end, top_match = stack.pop()
            self._emit(position, top_end, top_match)
            position = top_end + 1

    def _emit(self, first: int, last: int, match: Match) -> None:
        if first > last:
            return
        if self.ends and self.ends[-1] + 1 == first and self.matches[-1] is match:
            self.ends[-1] = last
            return
        self.starts.append(first)
        self.ends.append(last)
        self.matches.append(match)

    def find(self, value: int) -> Match | None:
        index = bisect.bisect_right(self.starts, value) - 1
        if index >= 0 and value <= self.ends[index]:
            return self.matches[index]
        return None


@dataclass
class Networks:
    """Labelled IP ranges (IPv4 and IPv6) with a fast most-specific lookup."""

    ranges: Iterable[Range] = ()
    mmdb_paths: tuple[str, ...] = ()
    counts: Counter[str] = field(default_factory=Counter, init=False)
    skipped: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        interned: dict[tuple[str, str], Match] = {}
        spans: dict[int, list[tuple[int, int, int, Match]]] = {4: [], 6: []}
        for cidr, kind, owner in self.ranges:
            try:
                version, first, last = parse_cidr(cidr)
            except ValueError:
                self.skipped += 1
                continue
            match = interned.setdefault((kind, owner), Match(kind, owner))
            priority = KIND_PRIORITY.get(kind, 2)
            spans[version].append((first, last, priority, match))
            self.counts[kind] += 1
        self.ranges = ()
        self._tables = {version: _Table(items) for version, items in spans.items()}

    def __len__(self) -> int:
        return sum(self.counts.values())

    def lookup(self, ip: str | None) -> Match | None:
        """Return the most specific labelled range holding ip, or None."""
        parsed = parse_ip(ip)
        if parsed is None:
            return None
        return self._tables[parsed[0]].find(parsed[1])

    def geo(self, ip: str | None) -> tuple[str | None, str | None]:
        """Return (country, asn) for ip, preferring the configured .mmdb files."""
        return lookup_geo(ip, self.mmdb_paths)

    def facts(self, ip: str | None) -> tuple[Match | None, str | None, str | None]:
        """Return `lookup(ip)` and `geo(ip)` together, reading the address once."""
        parsed = parse_ip(ip)
        if parsed is None:
            return None, None, None
        country, asn = geo_of(parsed, self.mmdb_paths)
        return self._tables[parsed[0]].find(parsed[1]), country, asn


def load_dir(path: str | Path, mmdb_paths: Iterable[str] = ()) -> Networks:
    """Read the range files an update wrote into path; missing files are skipped."""
    folder = Path(path)
    ranges: list[Range] = []
    has_scanners = False
    for name, source in SOURCES.items():
        file = folder / source.filename
        if not file.is_file():
            continue
        has_scanners = has_scanners or name == "scanners"
        ranges.extend(source.parse(file.read_text(encoding="utf-8", errors="replace")))
    for extra in sorted(folder.glob("*.ranges")) if folder.is_dir() else ():
        ranges.extend(parse_network_lines(extra.read_text(encoding="utf-8")))
    if not has_scanners:
        ranges.extend(parse_network_lines(BUILTIN_SCANNER_RANGES))
    return Networks(ranges, tuple(mmdb_paths))


def fetch_sources() -> dict[str, str]:
    """Return the download URL of each published range list, by source name."""
    return {name: source.url for name, source in SOURCES.items() if source.url}


# Geo lookup: a MaxMind-format .mmdb when configured, else geoip2fast's shipped data.
#
# Both are loaded once per process and kept: an .mmdb is memory-mapped (its pages are the
# file's, shared by every process that maps it), and geoip2fast's ~100 MB of tables are best
# loaded by load_geo() in a parent before it forks (gunicorn's master does, in
# app/gunicorn_conf.py), so that the children share the pages instead of each reading its own.


@lru_cache(maxsize=8)
def _mmdb_reader(path: str):  # noqa: ANN202 - maxminddb is optional
    import maxminddb

    # MODE_MMAP_EXT (the C reader) when it is built, else MODE_MMAP: never read into memory.
    mode = maxminddb.MODE_MMAP_EXT if _has_mmdb_extension() else maxminddb.MODE_MMAP
    return maxminddb.open_database(path, mode)


def _has_mmdb_extension() -> bool:
    try:
        import maxminddb.extension  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _geoip2fast():  # noqa: ANN202 - geoip2fast is optional
    try:
        from geoip2fast import GeoIP2Fast
    except ImportError:
        return None
    # The ASN + IPv6 data file ships inside the wheel; no download happens.
    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz", verbose=False)


def load_geo(mmdb_paths: str | Iterable[str] = ()) -> float:
    """Load the geo data this process will look up with, once; return the seconds it took.

    Call it in a process that forks workers, before it forks (gunicorn's master), or once in
    a long-lived process (an ingester): later lookups find it loaded. The objects loaded are
    moved out of the garbage collector's sight (``gc.freeze``), so its passes in the forked
    children do not write to, and so unshare, the pages they sit in.
    """
    if isinstance(mmdb_paths, str):
        mmdb_paths = [part.strip() for part in mmdb_paths.split(",") if part.strip()]
    start = time.perf_counter()
    for path in mmdb_paths:
        try:
            _mmdb_reader(str(path))
        except (OSError, ValueError, RuntimeError, ImportError) as error:
            # Looked up per open as before: a file fixed later is opened then.
            log.warning("cannot open the geo database %s (%s)", path, error)
    _geoip2fast()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - start


def _from_mmdb(record: dict) -> tuple[str | None, str | None]:
    country = None
    if isinstance(record.get("country"), dict):
        country = record["country"].get("iso_code")
    country = country or record.get("country_code")
    number = record.get("autonomous_system_number") or record.get("asn")
    name = record.get("autonomous_system_organization") or record.get("as_name")
    asn = None
    if number or name:
        number = str(number or "").upper()
        if number and not number.startswith("AS"):
            number = f"AS{number}"
        asn = " ".join(part for part in (number, name) if part)
    return country, asn


def lookup_geo(ip: str | None, mmdb_paths: tuple[str, ...] = ()) -> tuple[str | None, str | None]:
    """Return (ISO country code, network owner) for ip; (None, None) when unknown."""
    parsed = parse_ip(ip)
    if parsed is None:
        return None, None
    return geo_of(parsed, mmdb_paths)


@lru_cache(maxsize=8192)
def geo_of(
    parsed: tuple[int, int], mmdb_paths: tuple[str, ...] = ()
) -> tuple[str | None, str | None]:
    """Return `lookup_geo` of an address as `parse_ip` gives it, memoised by its number."""
    country: str | None = None
    asn: str | None = None
    # An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as the IPv4 one it is.
    text = _ip_text(parsed) if mmdb_paths else ""
    for path in mmdb_paths:
        try:
            record = _mmdb_reader(path).get(text)
        except (OSError, ValueError, RuntimeError, ImportError):
            continue
        if isinstance(record, dict):
            found_country, found_asn = _from_mmdb(record)
            country = country or found_country
            asn = asn or found_asn
    if country and asn:
        return country, asn
    reader = _geoip2fast()
    if reader is None:
        return country, asn
    code, asn_name, is_private = _geoip2fast_read(reader, parsed)
    if is_private:
        return country, asn
    if not country and code and len(code) == 2 and code.isalpha():
        country = code
    return country, asn or (asn_name or None)


lookup_geo.cache_clear = geo_of.cache_clear  # type: ignore[attr-defined]


def _ip_text(parsed: tuple[int, int]) -> str:
    """Return the text of a `parse_ip` result (an IPv4-mapped address as its IPv4 text)."""
    family = socket.AF_INET if parsed[0] == 4 else socket.AF_INET6
    return socket.inet_ntop(family, parsed[1].to_bytes(4 if parsed[0] == 4 else 16, "big"))


def _geoip2fast_read(reader, parsed: tuple[int, int]) -> tuple[str, str, bool]:  # noqa: ANN001
    """Return (country_code, asn_name, is_private) exactly as `reader.lookup(ip)` holds them.

    parsed is the address as `parse_ip` gives it, whose number is the one geoip2fast's lookup
    makes of the address's text (`GeoIP2Fast._ip2int`: the IPv4 number, or the 128-bit IPv6
    one), so the text is not parsed twice. A geoip2fast without the steps `_lookup_steps`
    takes is asked through its public `lookup`.
    """
    steps = _lookup_steps(reader)
    if steps is None:  # pragma: no cover - another geoip2fast release
        result = reader.lookup(_ip_text(parsed))
        return result.country_code, result.asn_name, result.is_private
    return steps(parsed[1])


# The module-level tables of geoip2fast 1.2 that its lookup reads.
_GEOIP2FAST_TABLES = (
    "mainIndex",
    "mainListFirstIP",
    "mainListNetlength",
    "mainListIDCountryCodes",
    "mainListNamesCountry",
    "mainIndexASN",
    "mainListFirstIPASN",
    "mainListIDASN",
    "mainListNetlengthASN",
    "mainListNamesASN",
    "numIPsv4",
    "numIPsv6",
    "MAX_IPv4",
)


# An IPv4 address's network is looked for among those of its /16 only (`_placer`).
_PREFIX_BITS = 16


def _placer(module, index: str, chunks: str):  # noqa: ANN001, ANN202
    """Return where a number's network lies in one of geoip2fast's tables, as its lookup finds it.

    A table (the module's attribute named by chunks, `mainListFirstIP`) is a list of chunks of
    network starts, each chunk but the last of one size, and index (`mainIndex`) holds the
    first start of each; its lookup bisects the index for the chunk, then the chunk for the
    network: (chunk number, place in it). For a never-seen address the chunk's bisection reads
    a dozen numbers that no other lookup has brought into the caches (each an object of its
    own, spread over megabytes). `starts[p]` counts the networks that start at or before the
    first address of IPv4 /16 number p, so those of an address in that /16 lie between
    `starts[p]` and `starts[p + 1]` (a few on average): where both ends lie in one chunk,
    only that stretch of it is bisected, while the module holds the tables it was built on.
    Other addresses, IPv6 among them, take the lookup's own two bisections. None where the
    table is not laid out so.
    """
    right = bisect.bisect_right
    heads, table = getattr(module, index), getattr(module, chunks)
    size = len(table[0])
    if len(heads) != len(table) or heads[0] != 0 or table[0][0] != 0:
        return None  # pragma: no cover - another release's layout
    if any(len(part) != size or heads[n] != part[0] for n, part in enumerate(table[:-1])):
        return None  # pragma: no cover - another release's layout
    starts = array("I")
    for prefix in range((1 << (32 - _PREFIX_BITS)) + 1):
        value = prefix << _PREFIX_BITS
        root = right(heads, value) - 1
        starts.append(root * size + right(table[root], value))
    limit = len(starts) - 1

    def place(value: int) -> tuple[int, int]:
        prefix = value >> _PREFIX_BITS
        if prefix < limit and getattr(module, chunks) is table:
            first, last = starts[prefix], starts[prefix + 1]
            root = (first - 1) // size
            if (last - 1) // size == root:
                base = root * size
                return root, right(table[root], value, first - base, last - base) - 1
        root = right(getattr(module, index), value) - 1
        return root, right(getattr(module, chunks)[root], value) - 1

    return place


@lru_cache(maxsize=2)
def _lookup_steps(reader):  # noqa: ANN001, ANN202
    """Return geoip2fast's lookup of a country file as one function of the address's number.

    The steps `GeoIP2Fast.lookup` takes (geoip2fast 1.2, pinned: `_main_index_lookup`,
    `_asn_lookup`, `_country_lookup`), on the module's tables, in one function: without what
    it adds and we never read (two clock readings and their formatting, the matched networks'
    CIDR text, a `GeoIPDetail` object) and without a method call, a try and a tuple per step,
    which together were most of a lookup's time (docs/benchmarks.md). An IPv4 address's
    network is found among its /16's (`_placer`), while the tables are the ones it was built
    on. Errors are answered as its lookup answers them; tests/rules/test_networks.py compares
    the two on thousands of addresses. None for a city file, whose lookup takes other steps,
    or another release without these tables or with them laid out otherwise.
    """
    from geoip2fast import geoip2fast as module

    if reader.country is not True or not all(hasattr(module, n) for n in _GEOIP2FAST_TABLES):
        return None  # pragma: no cover - a city file, or another geoip2fast release
    country_place = _placer(module, "mainIndex", "mainListFirstIP")
    network_place = _placer(module, "mainIndexASN", "mainListFirstIPASN") if reader.asn else None
    if country_place is None or (reader.asn and network_place is None):
        return None  # pragma: no cover - another release's layout

    def lookup(value: int) -> tuple[str, str, bool]:
        try:
            root, chunk = country_place(value)
            firsts = module.mainListFirstIP[root]
            sizes = module.numIPsv4 if value <= module.MAX_IPv4 else module.numIPsv6
            if value > firsts[chunk] + sizes[module.mainListNetlength[root][chunk]] - 1:
                return reader.error_code_network_not_found, "", False
            asn_name = asn_name_of(value)
            index = module.mainListIDCountryCodes[root][chunk]
            code, _name = module.mainListNamesCountry[index].split(":")
        except Exception:  # noqa: BLE001 - lookup() answers its internal errors so
            return reader.error_code_lookup_internal_error, "", False
        if index < 16:
            return reader.error_code_private_networks, asn_name, True
        return code, asn_name, False

    def asn_name_of(value: int) -> str:
        # `_asn_lookup`: its own errors, and an address past the matched network, give "".
        if reader.asn == False:  # noqa: E712 - geoip2fast's own test, kept as it is
            return ""
        try:
            root, chunk = network_place(value)
            firsts = module.mainListFirstIPASN[root]
            sizes = module.numIPsv6 if reader.ipv6 else module.numIPsv4
            if value > firsts[chunk] + sizes[module.mainListNetlengthASN[root][chunk]] - 1:
                return ""
            return module.mainListNamesASN[module.mainListIDASN[root][chunk]]
        except Exception:  # noqa: BLE001 - as geoip2fast's own answers its errors
            return ""

    return lookup


def networks_dir(instance_path: str) -> Path:
    """Return the folder that holds the downloaded range lists."""
    return Path(instance_path) / "networks"


def _mmdb_paths(config: dict) -> tuple[str, ...]:
    value = config.get("GEOIP_MMDB") or ""
    if isinstance(value, (list, tuple)):
        return tuple(str(item) for item in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


@lru_cache(maxsize=2)
def load_cached(folder: str, mmdb_paths: tuple[str, ...], stamp: float = 0.0) -> Networks:
    try:
        return load_dir(folder, mmdb_paths)
    except (OSError, ValueError) as error:
        # A broken list must not stop the recording of opens: judge without lists until it is
        # fixed (a fixed file has a new time stamp, and is loaded then).
        log.error("cannot read the network lists in %s (%s); judging without them", folder, error)
        return Networks((), mmdb_paths)


def _stamp(folder: Path) -> float:
    """Return the newest modification time in folder, so a refreshed list is noticed."""
    try:
        return max((entry.stat().st_mtime for entry in os.scandir(folder)), default=0.0)
    except FileNotFoundError:
        return 0.0


def networks_for(instance_path: str, config: Mapping) -> Networks:
    """Return the networks in `<instance>/networks`, reloaded only when a file there changed."""
    folder = networks_dir(instance_path)
    return load_cached(str(folder), _mmdb_paths(config), _stamp(folder))
