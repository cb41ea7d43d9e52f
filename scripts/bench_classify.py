#!/usr/bin/env python3
"""Time `opentrack classify` over many lines against a baseline that only echoes JSON.

Usage:
    .venv/bin/python scripts/bench_classify.py [--lines 100000] [--agents 400]

Writes --lines input lines (half bare user agents, half JSON objects with an IP, headers and
seconds since sending), drawn from the labelled user agents in tests/data/user_agents.tsv with
--agents distinct strings and many distinct IPs, then runs in the same run: the real command,
and a baseline Python process that reads the same lines and writes one JSON object per line
without classifying. Prints lines/s for both and their ratio.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=400)
    args = parser.parse_args()
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
