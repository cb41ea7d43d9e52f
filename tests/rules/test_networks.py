import json
import random

import pytest
from flask import Flask

from app.cli.classify import get_networks, networks_group
from app.rules.network_sources import (
    SOURCES,
    parse_apple_egress_csv,
    parse_aws_ip_ranges_json,
    parse_google_cloud_json,
    parse_microsoft_endpoints_json,
    parse_network_lines,
)
from app.rules.networks import Match, Networks, fetch_sources, load_dir, lookup_geo, parse_ip

APPLE_CSV = """\
104.28.148.63/32,LT,LT-VL,Vilnius
140.248.24.74/31,US,US-CA,Los Angeles
2a04:4e41:801:6000::/52,US,US-NY,New York
2606:54c0:47d0::/45,GB,GB-EN,London
"""
MICROSOFT_JSON = json.dumps(
    [
        {
            "id": 1,
            "serviceArea": "Exchange",
            "urls": ["outlook.cloud.microsoft", "outlook.office.com", "outlook.office365.com"],
            "ips": ["132.245.0.0/16", "2603:1006::/40"],
            "tcpPorts": "80,443",
        },
        {
            "id": 9,
            "serviceArea": "Exchange",
            "urls": ["*.protection.outlook.com"],
            "ips": ["40.92.0.0/15", "2a01:111:f403::/48"],
            "tcpPorts": "443",
        },
        {"id": 10, "serviceArea": "Exchange", "urls": ["*.mail.protection.outlook.com"]},
        {
            "id": 46,
            "serviceArea": "SharePoint",
            "urls": ["*.sharepoint.com"],
            "ips": ["13.107.136.0/22"],
        },
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", (4, 0x01020304)),
        (" 1.2.3.4 ", (4, 0x01020304)),
        ("::1", (6, 1)),
        ("[::1]", (6, 1)),
        ("fe80::1%eth0", (6, int("fe800000000000000000000000000001", 16))),
        ("::ffff:1.2.3.4", (4, 0x01020304)),
        ("", None),
        (None, None),
        ("999.1.1.1", None),
        ("1.2.3", None),
        ("not an ip", None),
        ("1.2.3.4/24", None),
        (12345, None),
    ],
)
def test_parse_ip(text, expected):
    assert parse_ip(text) == expected


def test_most_specific_range_wins():
    networks = Networks(
        [
            ("10.0.0.0/8", "datacenter", "Big Cloud"),
            ("10.1.0.0/16", "scanner", "Gateway"),
            ("10.1.2.0/24", "apple_relay", "Relay"),
            ("10.1.2.0/24", "datacenter", "Duplicate"),
            ("2001:db8::/32", "datacenter", "V6 Cloud"),
            ("2001:db8:1::/48", "scanner", "V6 Gateway"),
        ]
    )
    assert networks.lookup("10.0.0.1") == Match("datacenter", "Big Cloud")
    assert networks.lookup("10.1.0.0") == Match("scanner", "Gateway")
    assert networks.lookup("10.1.2.255").kind == "apple_relay"
    assert networks.lookup("10.1.3.0") == Match("scanner", "Gateway")
    assert networks.lookup("10.1.255.255") == Match("scanner", "Gateway")
    assert networks.lookup("10.2.0.0") == Match("datacenter", "Big Cloud")
    assert networks.lookup("10.255.255.255") == Match("datacenter", "Big Cloud")
    assert networks.lookup("11.0.0.0") is None
    assert networks.lookup("9.255.255.255") is None
    assert networks.lookup("2001:db8:1::5") == Match("scanner", "V6 Gateway")
    assert networks.lookup("2001:db8:2::5") == Match("datacenter", "V6 Cloud")
    # An IPv4 address never matches an IPv6 range holding the same integer.
    assert networks.lookup("::a01:203") is None
    assert networks.counts == {"datacenter": 3, "scanner": 2, "apple_relay": 1}


@pytest.mark.parametrize("ip", [None, "", "garbage", "300.0.0.1", "::zz", "[", "%"])
def test_lookup_of_odd_input_is_none(ip):
    assert Networks([("0.0.0.0/0", "datacenter", "All")]).lookup(ip) is None


def test_bad_cidrs_are_skipped_and_counted():
    networks = Networks([("1.2.3.0/24", "scanner", "A"), ("nonsense", "scanner", "B")])
    assert len(networks) == 1
    assert networks.skipped == 1
    assert Networks().lookup("1.2.3.4") is None


@pytest.mark.slow
def test_lookup_is_right_with_many_ranges():
    """Bisect over 200,000 flattened ranges agrees with a brute-force scan."""
    import ipaddress

    rng = random.Random(7)
    ranges = []
    for _ in range(150_000):
        value = rng.getrandbits(24) << 8
        ranges.append((f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.0/24", "x", "o"))
    for _ in range(50_000):
        ranges.append((f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::/64", "y", "o"))
    networks = Networks(ranges)
    v4 = {ipaddress.ip_network(cidr).network_address.packed[:3] for cidr, _, _ in ranges[:150_000]}
    probes = [
        f"{rng.getrandbits(8)}.{rng.getrandbits(8)}.{rng.getrandbits(8)}.1" for _ in range(5000)
    ]
    probes += [cidr.replace(".0/24", ".77") for cidr, _, _ in ranges[:2000]]
    for ip in probes:
        expected = ipaddress.ip_address(ip).packed[:3] in v4
        assert (networks.lookup(ip) is not None) == expected, ip


def test_parse_apple_egress_csv():
    rows = parse_apple_egress_csv(APPLE_CSV)
    assert len(rows) == 4
    assert {kind for _, kind, _ in rows} == {"apple_relay"}
    networks = Networks(rows)
    assert networks.lookup("140.248.24.75").kind == "apple_relay"
    assert networks.lookup("2606:54c0:47d0::1").kind == "apple_relay"
    with pytest.raises(ValueError):
        parse_apple_egress_csv("<html>not a csv</html>\n")


def test_parse_microsoft_endpoints_json():
    networks = Networks(parse_microsoft_endpoints_json(MICROSOFT_JSON))
    assert networks.lookup("40.93.1.1").kind == "scanner"
    assert networks.lookup("2a01:111:f403::1").kind == "scanner"
    assert networks.lookup("132.245.1.1").kind == "outlook_proxy"
    assert networks.lookup("13.107.136.1") is None
    with pytest.raises(ValueError):
        parse_microsoft_endpoints_json('{"error": "bad request"}')


def test_parse_cloud_lists():
    aws = json.dumps(
        {
            "prefixes": [{"ip_prefix": "3.0.0.0/15", "service": "AMAZON"}],
            "ipv6_prefixes": [{"ipv6_prefix": "2600:1f00::/24"}],
        }
    )
    google = json.dumps(
        {"prefixes": [{"ipv4Prefix": "34.0.0.0/15"}, {"ipv6Prefix": "2600:1900::/35"}]}
    )
    assert [kind for _, kind, _ in parse_aws_ip_ranges_json(aws)] == ["datacenter"] * 2
    assert len(parse_google_cloud_json(google)) == 2


def test_parse_network_lines():
    rows = parse_network_lines(
        "# comment\n\n1.2.3.0/24, scanner, Acme Gateway\n5.6.7.8,datacenter\n"
    )
    assert rows == [
        ("1.2.3.0/24", "scanner", "Acme Gateway"),
        ("5.6.7.8", "datacenter", "datacenter"),
    ]
    with pytest.raises(ValueError):
        parse_network_lines("1.2.3.0/24\n")


def test_load_dir_reads_what_update_wrote(tmp_path):
    (tmp_path / SOURCES["apple"].filename).write_text(APPLE_CSV)
    (tmp_path / SOURCES["microsoft"].filename).write_text(MICROSOFT_JSON)
    (tmp_path / "extra.ranges").write_text("198.51.100.0/24,scanner,Test Gateway\n")
    networks = load_dir(tmp_path)
    assert networks.lookup("104.28.148.63").kind == "apple_relay"
    assert networks.lookup("198.51.100.9") == Match("scanner", "Test Gateway")
    # The built-in gateway list is used while no scanners.txt exists.
    assert networks.lookup("209.222.82.1").owner == "Barracuda Email Gateway Defense"


def test_load_dir_of_missing_folder_is_builtin_only(tmp_path):
    networks = load_dir(tmp_path / "absent")
    assert set(networks.counts) == {"scanner"}


def test_fetch_sources_names_the_published_lists():
    sources = fetch_sources()
    assert sources["apple"] == "https://mask-api.icloud.com/egress-ip-ranges.csv"
    assert sources["microsoft"].startswith("https://endpoints.office.com/endpoints/worldwide")
    assert "scanners" not in sources


def test_lookup_geo_offline():
    pytest.importorskip("geoip2fast")
    country, asn = lookup_geo("8.8.8.8")
    assert country == "US"
    assert asn and "GOOGLE" in asn.upper()
    assert lookup_geo("2a01:111:f400::5")[0] == "US"
    for odd in (None, "", "garbage", "999.0.0.1"):
        assert lookup_geo(odd) == (None, None)
    assert lookup_geo("10.0.0.1") == (None, None)


def test_facts_are_the_lookup_and_the_geo_of_an_address():
    """facts reads the address once and answers what lookup and geo answer apart."""
    networks = Networks([("8.8.8.0/24", "datacenter", "Google"), ("2a01:111::/32", "x", "y")])
    addresses = [None, "", "garbage", "8.8.8.8", " 8.8.8.9 ", "::ffff:8.8.8.8", "10.0.0.1"]
    addresses += ["2a01:111:f400::5", "[2a01:111::1]", "fe80::1%eth0", "81.2.69.142"]
    for ip in addresses:
        want = (networks.lookup(ip), *networks.geo(ip))
        lookup_geo.cache_clear()
        assert networks.facts(ip) == want, ip
    assert networks.facts("::ffff:8.8.8.8")[0] == Match("datacenter", "Google")


def test_lookup_geo_ignores_an_unreadable_mmdb(tmp_path):
    pytest.importorskip("maxminddb")
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    assert lookup_geo("9.9.9.9", (str(broken), str(tmp_path / "missing.mmdb"))) == lookup_geo(
        "9.9.9.9"
    )


@pytest.fixture
def app(tmp_path):
    app = Flask("opentrack_test", instance_path=str(tmp_path / "instance"))
    app.cli.add_command(networks_group)
    return app


def test_networks_load_and_show(app, tmp_path):
    runner = app.test_cli_runner()
    download = tmp_path / "egress-ip-ranges.csv"
    download.write_text(APPLE_CSV)
    result = runner.invoke(args=["networks", "load", str(download)])
    assert result.exit_code == 0, result.output
    assert "apple: 4 ranges" in result.output
    scanners = tmp_path / "mine.txt"
    scanners.write_text("198.51.100.0/24,scanner,Test Gateway\n")
    result = runner.invoke(args=["networks", "load", str(scanners), "--kind", "scanners"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["networks", "show"])
    assert result.exit_code == 0
    assert "apple_relay: 4" in result.output
    assert "scanner: 1" in result.output
    with app.app_context():
        assert get_networks().lookup("198.51.100.1").owner == "Test Gateway"
        assert get_networks() is get_networks()


def test_networks_load_rejects_a_wrong_file(app, tmp_path):
    runner = app.test_cli_runner()
    page = tmp_path / "endpoints.json"
    page.write_text("<html>error</html>")
    result = runner.invoke(args=["networks", "load", str(page), "--kind", "microsoft"])
    assert result.exit_code != 0
    assert "not a valid microsoft list" in result.output
    assert not (tmp_path / "instance" / "networks" / SOURCES["microsoft"].filename).exists()


def test_get_networks_without_files_is_builtin_only(app):
    with app.app_context():
        networks = get_networks()
    assert networks.lookup("1.1.1.1") is None
    assert networks.lookup("40.92.0.1").kind == "scanner"


@pytest.mark.slow
def test_networks_update_downloads_each_list_and_keeps_the_old_one_on_failure(
    app, tmp_path, monkeypatch
):
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    (served / "egress.csv").write_text(APPLE_CSV)
    (served / "endpoints.json").write_text(MICROSOFT_JSON)
    handler = partial(SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    import app.cli.classify as classify_cli

    sources = {"apple": f"{base}/egress.csv", "microsoft": f"{base}/endpoints.json"}
    monkeypatch.setattr(classify_cli, "fetch_sources", lambda: sources)
    runner = app.test_cli_runner()
    try:
        result = runner.invoke(args=["networks", "update", "--timeout", "5"])
        assert result.exit_code == 0, result.output
        assert "apple: 4 ranges" in result.output
        with app.app_context():
            assert get_networks().lookup("140.248.24.75").kind == "apple_relay"
        # A list that fails to download (or is not a list) leaves the one we had in place.
        (served / "egress.csv").write_text("<html>maintenance</html>")
        sources["microsoft"] = f"{base}/missing.json"
        result = runner.invoke(args=["networks", "update", "--timeout", "5"])
        assert result.exit_code == 1
        assert "apple: not updated" in result.output
        assert "microsoft: not updated" in result.output
        with app.app_context():
            assert get_networks().lookup("140.248.24.75").kind == "apple_relay"
    finally:
        server.shutdown()
        server.server_close()


def test_geo_steps_answer_as_geoip2fast_lookup_does():
    """The steps of geoip2fast's lookup taken directly give what its public lookup gives."""
    pytest.importorskip("geoip2fast")
    import random

    from app.rules.networks import _geoip2fast, _geoip2fast_read, _ip_text

    reader = _geoip2fast()
    rng = random.Random(5)
    ips = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(3000)]
    ips += [":".join(f"{rng.randrange(1 << 16):x}" for _ in range(8)) for _ in range(1000)]
    ips += ["2a01:111:f400::5", "8.8.8.8", "0.0.0.0", "255.255.255.255", "10.1.2.3", "::1"]
    ips += ["::ffff:8.8.4.4", "[2001:4860:4860::8888]", " 1.1.1.1 "]
    # Where the /16 shortcut and the two bisections could part: the edges of /16s, and the
    # first networks of chunks and their neighbours (on both tables).
    from geoip2fast import geoip2fast as module

    edges = [prefix << 16 for prefix in rng.sample(range(1 << 16), 300)]
    edges += [
        head
        for chunks in (module.mainListFirstIP, module.mainListFirstIPASN)
        for head in (chunk[0] for chunk in chunks)
        if head < 1 << 32
    ]
    numbers = {max(0, min(edge + step, (1 << 32) - 1)) for edge in edges for step in (-1, 0, 1)}
    ips += [_ip_text((4, number)) for number in sorted(numbers)]
    differ = []
    for ip in ips:
        parsed = parse_ip(ip)
        found = reader.lookup(_ip_text(parsed))
        if _geoip2fast_read(reader, parsed) != (
            found.country_code,
            found.asn_name,
            found.is_private,
        ):
            differ.append(ip)
    assert differ == []
    # The number geoip2fast makes of an address's text is the one parse_ip gives.
    assert all(reader._ip2int(_ip_text(parse_ip(ip))) == parse_ip(ip)[1] for ip in ips)
