"""Clicks judged with what their network did first, and reclassified from their raw facts."""

from app.core.times import from_iso
from app.rules.network_sources import BUILTIN_SCANNER_RANGES, parse_network_lines
from app.rules.networks import Networks
from app.rules.storage import StoragePolicy
from app.tracking.reclassify import reclassify
from app.tracking.writer import DEFAULT_POLICY, record_clicks, record_fetches, settle

HTML = '<body><a href="https://shop.example/a">A</a> <a href="https://shop.example/b">B</a></body>'
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17029; Pro)"
# A desktop mail app's link view: names no client or browser.
BARE_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
SCANNERS = parse_network_lines(BUILTIN_SCANNER_RANGES)
# Without and with a hosting range that a gateway clicks from.
PLAIN = Networks(SCANNERS)
HOSTING = Networks(SCANNERS + parse_network_lines("203.0.113.0/24,datacenter,Example Cloud\n"))
RECIPIENTS = ["reader@x.org", "gateway@x.org", "phone@x.org", "every@x.org", "bare@x.org"]


def send(client, auth, campaign):
    response = client.post("/api/v1/campaigns", json={"id": campaign}, headers=auth)
    assert response.status_code == 201, response.get_json()
    body = {"html": HTML, "recipients": RECIPIENTS, "track_clicks": True}
    response = client.post(f"/api/v1/campaigns/{campaign}/inject", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    messages = response.get_json()["messages"]
    links = []
    for message in messages:
        tokens = [part.split('"')[0] for part in message["html"].split("/c/")[1:]]
        links.append([int(token.split(".")[1]) for token in tokens])
    return [m["message_id"] for m in messages], links


def traffic(store, campaign, message_ids, links):
    """Spool lines of the same five stories for one campaign: (fetches, clicks)."""
    injected = store.injected_times(message_ids)
    reader, gateway, phone, every, bare = zip(message_ids, links, strict=True)
    fetches, clicks = [], []

    def at(message, seconds):
        return from_iso(injected[message[0]]) + seconds

    def fetch(message, seconds, ip, agent):
        key = f"{campaign}-f{len(fetches)}"
        fetches.append([key, message[0], at(message, seconds), ip, agent, "GET", None, None])

    def hit(message, link, seconds, ip, agent):
        key = f"{campaign}-c{len(clicks)}"
        line = [key, message[0], at(message, seconds), ip, agent, "GET", None, None]
        clicks.append([*line, {"click": message[1][link]}])

    # Reads in Outlook, then follows a link 3 s after sending from the same /24.
    fetch(reader, 1, "198.51.100.7", OUTLOOK)
    hit(reader, 0, 3, "198.51.100.23", BARE_DESKTOP)
    # A gateway in a hosting range follows a link at delivery.
    hit(gateway, 0, 2, "203.0.113.9", CHROME)
    # A person on a phone, quick, with images blocked; a hosting range fetched the pixel first
    # (a person's open only while that range is unknown).
    fetch(phone, 1, "203.0.113.20", CHROME)
    hit(phone, 1, 5, "192.0.2.44", SAFARI)
    # Both links within a second, an hour later.
    hit(every, 0, 3600, "192.0.2.50", CHROME)
    hit(every, 1, 3600.5, "192.0.2.50", CHROME)
    # A bare user agent at delivery, having fetched nothing.
    hit(bare, 0, 3, "192.0.2.60", BARE_DESKTOP)
    return fetches, clicks


def record(store, lines, networks, policy=DEFAULT_POLICY):
    fetches, clicks = lines
    record_fetches(store, fetches, networks, 60, policy=policy)
    record_clicks(store, clicks, networks, 60, policy)
    settle(store, now=from_iso("2100-01-01T00:00:00Z"))


def picture(store, campaign, message_ids):
    """Everything the click rules feed: verdicts, implied opens and every counter."""
    counters = ("clicks", "human_clicks", "machine_clicks", "clickers", "opened", "human_opens")
    row = store.get_campaign(campaign)
    injected = store.injected_times(message_ids)
    messages = []
    for message_id in message_ids:
        message = store.get_message(message_id)

        def since(at, message_id=message_id):
            return None if at is None else round(from_iso(at) - from_iso(injected[message_id]), 1)

        [human_clicks] = store.db.execute(
            "SELECT human_clicks FROM messages WHERE id = ?", [message_id]
        ).fetchone()
        messages.append(
            (
                message["state"],
                human_clicks,
                since(message["first_open_at"]),
                [(since(e["at"]), e["verdict"], e["source"]) for e in message["events"]],
                [
                    (c["url"], c["verdict"], c["source"], c["reason"], c["client"])
                    for c in store.message_clicks(message_id)
                ],
            )
        )
    links = [{k: v for k, v in link.items() if k != "id"} for link in store.link_counts(campaign)]
    return {k: row[k] for k in counters}, messages, links


def test_a_click_from_the_network_that_read_the_message_is_a_persons(client, auth, store):
    message_ids, links = send(client, auth, "evidence")
    record(store, traffic(store, "evidence", message_ids, links), HOSTING)
    sources = [[c["source"] for c in store.message_clicks(m)] for m in message_ids]
    assert sources == [["click"], ["scanner"], ["click"], ["scanner", "scanner"], ["scanner"]]
    [reader] = store.message_clicks(message_ids[0])
    assert "198.51.100.0" in reader["reason"] and reader["verdict"] == "human"
    [gateway] = store.message_clicks(message_ids[1])
    assert "never fetched the message's pixel" in gateway["reason"]
    row = store.get_campaign("evidence")
    assert (row["human_clicks"], row["machine_clicks"], row["clickers"]) == (2, 4, 2)


def test_reclassified_clicks_equal_clicks_recorded_under_the_same_rules(client, auth, store):
    live_ids, live_links = send(client, auth, "live")
    record(store, traffic(store, "live", live_ids, live_links), HOSTING)
    # The same traffic stored before the hosting range was known: the gateway's click was a
    # person's, and opened its message.
    old_ids, old_links = send(client, auth, "old")
    record(store, traffic(store, "old", old_ids, old_links), PLAIN)
    before = picture(store, "old", old_ids)
    assert before[1][1][0] == "opened" and before[0]["human_clicks"] == 3
    assert [e[2] for e in before[1][2][3]] == ["direct"]
    result = reclassify(store, HOSTING, 60, "old")
    assert (result["clicks"], result["clicks_changed"]) == (6, 1)
    assert picture(store, "old", old_ids) == picture(store, "live", live_ids)
    # The phone's open is now its click's: the hosting range's fetch was a scanner's.
    assert [e[2] for e in picture(store, "old", old_ids)[1][2][3]] == ["scanner", "click"]
    # Judged again by the rules it was judged by, nothing moves.
    assert reclassify(store, HOSTING, 60, "old")["clicks_changed"] == 0
    assert picture(store, "old", old_ids) == picture(store, "live", live_ids)
    # And back: the person's click and its open return.
    reclassify(store, PLAIN, 60, "old")
    assert picture(store, "old", old_ids) == before


def test_clicks_whose_ip_was_not_kept_keep_their_verdict(client, auth, store):
    message_ids, links = send(client, auth, "private")
    record(store, traffic(store, "private", message_ids, links), PLAIN, StoragePolicy(ip="none"))
    before = picture(store, "private", message_ids)
    result = reclassify(store, HOSTING, 60, "private")
    assert (result["clicks"], result["clicks_changed"]) == (6, 0)
    assert picture(store, "private", message_ids) == before
