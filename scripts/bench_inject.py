#!/usr/bin/env python3
"""Measure personalised injection of a realistic ~60 KB newsletter, with and without click
tracking, against pytracking's adapt_html in the same run.

Usage:
    .venv/bin/pip install -c scripts/constraints.txt -e '.[bench]'   # pytracking, lxml
    .venv/bin/python scripts/bench_inject.py [--messages 2000] [--clicks 3000] [--single 400]
        [--batches 3] [--workers 4] [--concurrency 4] [--batch-concurrency 2] [--save-html FILE]

In-process, pixel only (app/core/inject.py), per message: a plain copy of the HTML with the tag
spliced in (the floor any injector pays), find_pixel_position alone, add_pixel scanning the HTML
for each message, and add_pixel with the position found once (what the API does for a shared
body). In-process with click tracking: pytracking's adapt_html with links (the baseline), the
former way (one itsdangerous token per link), and app.core.injection.inject_messages on a real
SQLite store in batches of 1,000 recipients sharing the HTML (--clicks messages). Then through
the HTTP API under gunicorn (the Procfile's command line, a free port, a temp instance):
--single calls of one message each from --concurrency client threads, and --batches calls of
1,000 recipients sharing one HTML from --batch-concurrency threads, without and with
track_clicks. Prints messages/s for each, the click-tracked ones also as a multiple of
pytracking's rate, and the cost of verifying one click token of each form.
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

sys.path.insert(0, str(benchlib.ROOT))
from app.core import inject, links  # noqa: E402
from app.core.injection import InjectItem, Signers, inject_messages  # noqa: E402
from app.core.tokens import (  # noqa: E402
    click_serializer,
    mint_click_token,
    mint_token,
    new_secret,
    optout_serializer,
    pixel_serializer,
    read_click_token,
)
from app.store import Store  # noqa: E402

BATCH = 1000
ARTICLE = """
<tr><td class="article" style="padding:24px 32px;font-family:Georgia,serif;">
  <!--[if mso]><table role="presentation" width="536"><tr><td><![endif]-->
  <h2 style="margin:0 0 8px;font-size:22px;line-height:28px;color:#1a1a1a;">
    <a href="https://news.example.com/{n}/story?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=nov&amp;utm_content=h{n}"
       style="color:#1a1a1a;text-decoration:none;">Story {n}: caf&eacute; owners &amp; the
       &ldquo;quiet&rdquo; winter &mdash; what&rsquo;s next?</a></h2>
  <p style="margin:0 0 12px;font-size:16px;line-height:24px;color:#444;">
    Ségolène’s team looked at {n} years of data&nbsp;&ndash; prices rose 3&nbsp;% while
    footfall fell &#8211; see <a href="https://news.example.com/{n}/data?ref=nl&amp;id={n}">the
    charts</a>, <a href="https://news.example.com/{n}/map?ref=nl">the map</a> and
    <a href="mailto:tips@example.com?subject=Story%20{n}">send us a tip</a> &copy;&nbsp;2026.</p>
  <table role="presentation" cellpadding="0" cellspacing="0" border="0"><tr>
    <td bgcolor="#0b57d0" style="border-radius:4px;">
      <a href="https://news.example.com/{n}?utm_source=newsletter&amp;utm_content=cta{n}"
         style="display:inline-block;padding:10px 18px;color:#ffffff;font-weight:bold;">Read
         more &rarr;</a></td>
    <td width="12">&nbsp;</td>
    <td><a href="https://twitter.com/intent/tweet?url=https%3A%2F%2Fnews.example.com%2F{n}">
      <img src="https://cdn.example.com/icons/x.png" width="20" height="20" alt="Share"></a></td>
  </tr></table>
  <!--[if mso]></td></tr></table><![endif]-->
</td></tr>"""


def newsletter(size: int = 60_000) -> str:
    """Return a newsletter's HTML of about size characters, built like real campaign mail."""
    head = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
  "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml"
      xmlns:o="urn:schemas-microsoft-com:office:office" lang="en">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The November letter &ndash; Example News</title>
<!--[if gte mso 9]><xml><o:OfficeDocumentSettings><o:AllowPNG/><o:PixelsPerInch>96
</o:PixelsPerInch></o:OfficeDocumentSettings></xml><![endif]-->
<style type="text/css">
  body { margin:0; padding:0; -webkit-text-size-adjust:100%; }
  table, td { border-collapse:collapse; mso-table-lspace:0pt; mso-table-rspace:0pt; }
  a[x-apple-data-detectors] { color:inherit !important; text-decoration:none !important; }
  .article h2 a:hover { text-decoration:underline; }
  @media only screen and (max-width:600px) { .container { width:100% !important; } }
  /* a template engine once left this here: </body> */
</style>
</head>
<body style="margin:0;padding:0;background:#f4f4f4;">
<div style="display:none;max-height:0;overflow:hidden;">This week: {n} stories &zwnj;&nbsp;</div>
<!--[if mso]><center><table role="presentation" width="600"><tr><td><![endif]-->
<table role="presentation" class="container" width="600" align="center" bgcolor="#ffffff">
"""
    foot = """
</table>
<!--[if mso]></td></tr></table></center><![endif]-->
<table role="presentation" width="600" align="center"><tr><td style="font-size:12px;color:#888;">
  You get this because you subscribed at example.com &middot;
  <a href="https://news.example.com/unsubscribe?u=%%SUBSCRIBER%%&amp;l=nov">Unsubscribe</a>
  &middot; Example News, 1 Rue de la Paix, 75002 Paris
</td></tr></table>
<!-- footer partial v3: keep the closing </body> after this comment -->
</body>
</html>
"""
    articles, n = [], 0
    while len(head) + len(foot) + sum(map(len, articles)) < size:
        n += 1
        articles.append(ARTICLE.format(n=n))
    return head.replace("{n}", str(n)) + "".join(articles) + foot


def per_second(count: int, seconds: float) -> str:
    """Format a rate."""
    return f"{count / seconds:,.0f}"


def bench_in_process(html: str, count: int) -> list[list]:
    """Time each way of adding the pixel to count messages; return table rows."""
    serializer = pixel_serializer([new_secret()])
    start = time.perf_counter()
    urls = [
        f"https://t.example.com/o/{mint_token(serializer, f'msg{i}')}.gif" for i in range(count)
    ]
    mint_seconds = time.perf_counter() - start
    position = inject.find_pixel_position(html)
    check = inject.add_pixel(html, urls[0])
    assert check.index(inject.pixel_tag(urls[0])) == html.rindex("</body>"), "pixel misplaced"
    tags = [inject.pixel_tag(url) for url in urls]
    ways = {
        "baseline: copy with the tag spliced in": lambda i: (
            html[:position] + tags[i] + html[position:]
        ),
        "find_pixel_position only": lambda i: inject.find_pixel_position(html),
        "add_pixel, scanning each message": lambda i: inject.add_pixel(html, urls[i]),
        "add_pixel, position found once (API)": lambda i: inject.add_pixel(html, urls[i], position),
    }
    rows = [
        [
            "mint_token (signing, for reference)",
            count,
            per_second(count, mint_seconds),
            f"{mint_seconds / count * 1e6:.1f}",
        ]
    ]
    for name, way in ways.items():
        start = time.perf_counter()
        for i in range(count):
            way(i)
        seconds = time.perf_counter() - start
        rows.append([name, count, per_second(count, seconds), f"{seconds / count * 1e6:.1f}"])
    return rows


def bench_pytracking(html: str, count: int) -> float:
    """Return the seconds pytracking's adapt_html takes for count messages, links and pixel."""
    try:
        from pytracking import Configuration
        from pytracking.html import adapt_html
    except ImportError:
        raise SystemExit(
            "pytracking is the baseline: .venv/bin/pip install -c scripts/constraints.txt "
            "-e '.[bench]'"
        ) from None
    configuration = Configuration(
        base_open_tracking_url="https://t.example.com/o/",
        base_click_tracking_url="https://t.example.com/c/",
    )
    out = adapt_html(html, {"message_id": "m0"}, configuration=configuration)
    assert out.count("https://t.example.com/c/") > 100, "pytracking tracked no links"
    start = time.perf_counter()
    for i in range(count):
        adapt_html(html, {"message_id": f"m{i}"}, configuration=configuration)
    return time.perf_counter() - start


def per_link_itsdangerous(html: str, count: int) -> float:
    """Return the seconds the former click rewriting takes for count messages: one
    itsdangerous token per link."""
    serializer = click_serializer([new_secret()])
    found = links.find_links(html)
    position = inject.find_pixel_position(html)
    prefix = "https://t.example.com/c/"
    start = time.perf_counter()
    for i in range(count):
        urls = [prefix + serializer.dumps([f"msg{i}", n]) for n in range(len(found))]
        document, moved = links.replace_links(html, found, urls, position)
        inject.add_pixel(document, f"https://t.example.com/o/{i}.gif", moved)
    return time.perf_counter() - start


def batch_inject_with_clicks(html: str, count: int) -> float:
    """Return the seconds inject_messages takes for count messages with click tracking, on a
    real SQLite store, in batches of 1,000 recipients sharing the HTML."""
    keys = [new_secret()]
    signers = Signers(pixel_serializer(keys), optout_serializer(keys), click_serializer(keys))
    with tempfile.TemporaryDirectory() as folder:
        store = Store(str(Path(folder) / "bench.db"))
        store.migrate()
        store.create_campaign("bench", "Bench")
        base = "https://t.example.com"
        [check] = inject_messages(
            store, signers, "bench", [InjectItem("check@x.org", None, html, True)], base, True
        )
        tracked = check["html"].count(base + "/c/")
        assert tracked == len(links.find_links(html)), "not every link was rewritten"
        assert check["html"].count(base + "/c/") > 100
        done, seconds = 0, 0.0
        while done < count:
            size = min(BATCH, count - done)
            items = [InjectItem(f"r{done + i}@x.org", None, html, True) for i in range(size)]
            start = time.perf_counter()
            inject_messages(store, signers, "bench", items, base, True)
            seconds += time.perf_counter() - start
            done += size
    return seconds


def verify_costs() -> list[list]:
    """Time reading one click token of each form; return table rows."""
    serializer = click_serializer([new_secret(), new_secret()])
    compact = mint_click_token(serializer, "rE5cWpDCD43LMOWC", 187)
    old = serializer.dumps(["rE5cWpDCD43LMOWC", 187])
    rows = []
    for name, token in (("compact (minted now)", compact), ("itsdangerous (sent before)", old)):
        count = 20_000
        start = time.perf_counter()
        for _ in range(count):
            read_click_token(serializer, token)
        seconds = time.perf_counter() - start
        rows.append(
            [
                f"verify a click token, {name}",
                count,
                per_second(count, seconds),
                f"{seconds / count * 1e6:.1f}",
            ]
        )
    return rows


def bench_clicks(html: str, args) -> tuple[list[list], float]:
    """Time click-tracked injection against pytracking; return rows and pytracking's rate.

    The ways take turns, a batch each per round, so a machine busy with other work slows
    them alike.
    """
    rounds = max(1, -(-args.clicks // BATCH))
    ways = {
        "pytracking adapt_html with links (baseline)": (bench_pytracking, args.baseline),
        "former: one itsdangerous token per link": (per_link_itsdangerous, args.baseline),
        f"inject_messages with clicks, SQLite, {BATCH:,} per batch": (
            batch_inject_with_clicks,
            args.clicks,
        ),
    }
    seconds = dict.fromkeys(ways, 0.0)
    counts = dict.fromkeys(ways, 0)
    for turn in range(rounds):
        for name, (way, total) in ways.items():
            count = total // rounds + (1 if turn < total % rounds else 0)
            if count:
                seconds[name] += way(html, count)
                counts[name] += count
    rates = {name: counts[name] / seconds[name] for name in ways}
    baseline = rates["pytracking adapt_html with links (baseline)"]
    rows = [
        [name, counts[name], f"{rate:,.0f}", f"{1e6 / rate:.0f}", f"{rate / baseline:.1f}"]
        for name, rate in rates.items()
    ]
    return rows, baseline


def run_calls(server, bodies: list[bytes], threads: int, expect_messages: int) -> float:
    """POST each body to the inject endpoint from some threads; return the wall time."""
    pending = list(reversed(bodies))
    lock, failures = threading.Lock(), []

    def worker():
        while True:
            with lock:
                if not pending or failures:
                    return
                body = pending.pop()
            status, data = server.request("POST", "/api/v1/campaigns/bench/inject", body)
            if status != 201 or data.count(b'"pixel_url"') != expect_messages:
                with lock:
                    failures.append(f"{status}: {data[:300]!r}")

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise SystemExit(f"inject call failed: {failures[0]}")
    return time.perf_counter() - start


def bench_http(html: str, args, baseline: float) -> list[list]:
    """Inject through the API under gunicorn, one message per call and 1,000 per call."""
    html_json = json.dumps(html)
    rows = []
    with benchlib.Server(args.workers) as server:
        print("gunicorn:", " ".join(benchlib.procfile_command(server.port, args.workers)))
        server.api("POST", "/campaigns", {"id": "bench", "name": "Bench"}, expect=201)
        single = [
            f'{{"recipient": "single{i}@example.com", "html": {html_json}}}'.encode()
            for i in range(args.single)
        ]
        sample = server.api("POST", "/campaigns/bench/inject", single.pop(), expect=201)
        assert sample["pixel_url"] in sample["html"] and len(sample["html"]) > len(html)
        seconds = run_calls(server, single, args.concurrency, 1)
        rows.append(
            [
                f"HTTP, 1 message per call, {args.concurrency} clients",
                len(single),
                per_second(len(single), seconds),
                f"{seconds / len(single) * 1e6:.0f}",
                "",
            ]
        )
        for clicks in (False, True):
            batches = [
                json.dumps(
                    {
                        "html": html,
                        "recipients": [f"b{clicks:d}-{b}-{i}@example.com" for i in range(BATCH)],
                        "track_clicks": clicks,
                    }
                ).encode()
                for b in range(args.batches)
            ]
            seconds = run_calls(server, batches, args.batch_concurrency, BATCH)
            count = BATCH * len(batches)
            rate = count / seconds
            rows.append(
                [
                    f"HTTP, {BATCH:,} per call, {args.batch_concurrency} clients"
                    + (", with clicks" if clicks else ""),
                    count,
                    f"{rate:,.0f}",
                    f"{seconds / count * 1e6:.0f}",
                    f"{rate / baseline:.1f}" if clicks else "",
                ]
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="in-process messages per way")
    parser.add_argument("--clicks", type=int, default=3000, help="click-tracked messages")
    parser.add_argument("--baseline", type=int, default=60, help="pytracking messages")
    parser.add_argument("--single", type=int, default=400, help="one-message API calls")
    parser.add_argument("--batches", type=int, default=3, help="1,000-message API calls")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=4, help="threads for single calls")
    parser.add_argument("--batch-concurrency", type=int, default=2, help="threads for batches")
    parser.add_argument("--save-html", help="also write the generated newsletter to this file")
    args = parser.parse_args()
    numbers = [
        args.messages,
        args.clicks,
        args.baseline,
        args.single,
        args.batches,
        args.workers,
        args.concurrency,
        args.batch_concurrency,
    ]
    if min(numbers) < 1 or args.single < 2 or max(numbers) > 1_000_000:
        parser.error("counts must be between 1 and 1,000,000 (--single at least 2)")
    benchlib.raise_on_sigterm()
    html = newsletter()
    if args.save_html:
        Path(args.save_html).write_text(html)
    print(
        f"newsletter: {len(html.encode()):,} bytes, {html.count('<a ')} links, "
        f"{html.count('<!--')} comments"
    )
    rows = [row + [""] for row in bench_in_process(html, args.messages)]
    click_rows, baseline = bench_clicks(html, args)
    rows += click_rows + [row + [""] for row in verify_costs()]
    rows += bench_http(html, args, baseline)
    print(f"\n{len(html.encode()) // 1000} KB newsletter, {args.workers} gunicorn sync workers\n")
    benchlib.print_table(["way", "messages", "messages/s", "µs/message", "× pytracking"], rows)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
