#!/usr/bin/env python3
"""Time `opentrack classify` over many lines against a baseline that only echoes JSON.

Usage:
    .venv/bin/python scripts/bench_classify.py [--lines 100000] [--agents 400] [--ranges 300000]

Writes --lines input lines (half bare user agents, half JSON objects with an IP, headers and
seconds since sending), drawn from the labelled user agents in tests/data/user_agents.tsv with
--agents distinct strings and many distinct IPs, then runs in the same run: the real command,
and a baseline Python process that reads the same lines and writes one JSON object per line
without classifying. Prints lines/s for both and their ratio. First it times IP lookups
against --ranges network ranges (as `opentrack networks update` loads them) next to parsing the
same IPs alone.
"""

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASELINE = (
    "import json, sys\n"
    "for line in sys.stdin:\n"
    "    line = line.strip()\n"
    "    if line:\n"
    "        data = json.loads(line) if line.startswith('{') else {'user_agent': line}\n"
    "        sys.stdout.write(json.dumps({'user_agent': data.get('user_agent')}) + '\\n')\n"
)


def make_lines(count: int, agents: int, rng: random.Random) -> list[str]:
    """Return input lines for the classifier."""
    with open(ROOT / "tests/data/user_agents.tsv", newline="") as file:
        known = [row["user_agent"] for row in csv.DictReader(file, delimiter="\t")]
    pool = [rng.choice(known) + ("" if i < len(known) else f" v{i}") for i in range(agents)]
    lines = []
    for i in range(count):
        agent = rng.choice(pool)
        if i % 2:
            lines.append(agent)
        else:
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{i % 250}"
            fetch = {"user_agent": agent, "ip": ip, "seconds_since_send": rng.uniform(0, 9000)}
            lines.append(json.dumps(fetch))
    return lines


def timed(command: list[str], data: bytes, env: dict) -> tuple[float, int]:
    """Run a command on data; return (seconds, output lines)."""
    started = time.perf_counter()
    result = subprocess.run(command, input=data, capture_output=True, env=env, check=True)
    return time.perf_counter() - started, result.stdout.count(b"\n")


def bench_lookups(ranges: int, rng: random.Random) -> None:
    """Time IP lookups against many ranges, next to parsing the same IPs alone."""
    sys.path.insert(0, str(ROOT))
    from app.rules.networks import Networks, parse_ip

    spans = [
        (f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24", "x", "o")
        for _ in range(ranges)
    ]
    started = time.perf_counter()
    networks = Networks(spans)
    built = time.perf_counter() - started
    ips = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.7"
        for _ in range(100_000)
    ]
    started = time.perf_counter()
    found = sum(networks.lookup(ip) is not None for ip in ips)
    lookup = (time.perf_counter() - started) / len(ips)
    started = time.perf_counter()
    for ip in ips:
        parse_ip(ip)
    parse = (time.perf_counter() - started) / len(ips)
    print(f"{ranges:,} ranges built in {built:.2f} s; {len(ips):,} lookups, {found:,} found")
    print(f"lookup: {lookup * 1e6:.2f} us each; parsing the IP alone: {parse * 1e6:.2f} us")
    print(f"lookup / parse: {lookup / parse:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=400)
    parser.add_argument("--ranges", type=int, default=300_000, help="IP ranges for lookups")
    args = parser.parse_args()
    bench_lookups(args.ranges, random.Random(2))
    data = ("\n".join(make_lines(args.lines, args.agents, random.Random(1))) + "\n").encode()
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "OPENTRACK_INSTANCE_PATH": instance}
        ours, out = timed([str(BIN / "opentrack"), "classify"], data, env)
        base, base_out = timed([sys.executable, "-c", BASELINE], data, env)
    if out != args.lines or base_out != args.lines:
        print(f"expected {args.lines} output lines, got {out} and {base_out}", file=sys.stderr)
        return 1
    print(f"{args.lines} lines, {args.agents} distinct user agents")
    print(f"opentrack classify: {ours:6.2f} s  {args.lines / ours:10,.0f} lines/s")
    print(f"echo baseline:      {base:6.2f} s  {args.lines / base:10,.0f} lines/s")
    print(f"classify / baseline time: {ours / base:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
