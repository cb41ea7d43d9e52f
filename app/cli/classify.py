"""Command-line tools: classify user agents, and refresh the network range lists."""

from __future__ import annotations

import gc
import logging
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import click
import orjson
from flask import current_app
from flask.cli import with_appcontext

from app.rules.classify import Fetch, Verdict, classify, warm_up
from app.rules.network_sources import BUILTIN_SCANNER_RANGES, SOURCES
from app.rules.networks import (
    Networks,
    fetch_sources,
    load_cached,
    load_dir,
    networks_dir,
    networks_for,
)

log = logging.getLogger(__name__)

# Exactly what the pixel path stores of a verdict.
OUTPUT_FIELDS = tuple(field.name for field in fields(Verdict))
KIND_TO_SOURCE = {kind: kind for kind in ("apple", "microsoft", "scanners", "aws", "google-cloud")}


def get_networks() -> Networks:
    """Return the current app's networks."""
    return networks_for(current_app.instance_path, current_app.config)


def _fetch_from_line(line: str) -> Fetch:
    """Build a Fetch from a bare user agent or a JSON object; raise ValueError."""
    if not line.startswith("{"):
        return Fetch(user_agent=line)
    data = orjson.loads(line)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    seconds = data.get("seconds_since_send")
    if seconds is not None and not isinstance(seconds, (int, float)):
        raise ValueError("seconds_since_send must be a number")
    return Fetch(
        user_agent=str(data.get("user_agent") or ""),
        ip=str(data["ip"]) if data.get("ip") else None,
        method=str(data.get("method") or "GET"),
        headers={str(key).lower(): str(value) for key, value in headers.items()} if headers else {},
        seconds_since_send=seconds,
        burst=bool(data.get("burst", False)),
    )


def _line_batches(stream) -> Iterator[list[str]]:
    """Yield the complete lines that have arrived on stream, a batch per read.

    Reading whatever has arrived (read1) keeps the answers as prompt as the input, and lets
    a batch's answers go out in one write: one write a line costs more than judging the line
    when output is unbuffered (PYTHONUNBUFFERED).
    """
    raw = getattr(stream, "buffer", None)
    if raw is None or not hasattr(raw, "read1"):
        for line in stream:
            yield [line]
        return
    pending = b""
    while True:
        data = raw.read1(1 << 16)
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        if lines:
            yield [line.decode("utf-8", errors="replace") for line in lines]
    if pending:
        yield [pending.decode("utf-8", errors="replace")]


@click.command("classify")
@click.option(
    "--window",
    type=float,
    default=None,
    help="Scanner window in seconds (default: OPENTRACK_SCANNER_WINDOW_SECONDS or 60).",
)
@with_appcontext
def classify_command(window: float | None) -> None:
    """Classify user agents or JSON fetches read from stdin, one JSON line out per line."""
    if window is None:
        window = float(current_app.config.get("SCANNER_WINDOW_SECONDS", 60))
    networks = get_networks()
    # Do the classifier's one-time work now (ua-parser's resolver, the device screens, the geo
    # data), as a long-lived process should: the first lines do not pay for it, and the geo
    # data is frozen out of the garbage collector's passes, which otherwise walk its ~100 MB
    # of tables again and again while the memo of user agents grows (measured: a quarter of
    # an unseen line's time).
    warm_up(networks)
    # A line leaves few cycles (its Fetch and Verdict are freed by reference counting), yet
    # allocates enough containers to start a young-generation pass every few lines at the
    # default threshold of 700: ten thousand takes the collector's share of a never-seen line
    # from 1-2 us to about 0.5 us (measured in-process, docs/benchmarks.md).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    errors = 0
    number = 0
    out = sys.stdout
    # orjson: a verdict's line is encoded about ten times faster than by json.dumps, and an
    # input object decoded several times faster, which an unseen user agent's line is mostly
    # about (docs/benchmarks.md). Its output is compact UTF-8 JSON.
    dumps = orjson.dumps
    binary = getattr(out, "buffer", None)
    for batch in _line_batches(sys.stdin):
        answers = []
        for raw in batch:
            number += 1
            line = raw.strip()
            if not line:
                continue
            try:
                fetch = _fetch_from_line(line)
            except ValueError as error:
                errors += 1
                click.echo(f"line {number}: {error}", err=True)
                continue
            verdict = classify(fetch, networks, window)
            # orjson writes a dataclass's fields in their order, that of OUTPUT_FIELDS.
            answers.append(dumps(verdict))
        if answers:
            text = b"\n".join(answers) + b"\n"
            if binary is not None:
                out.flush()
                binary.write(text)
                binary.flush()
            else:
                out.write(text.decode("utf-8"))
                out.flush()
    if errors:
        click.echo(f"{errors} line(s) could not be read", err=True)
        raise click.exceptions.Exit(1)


@click.group("networks")
def networks_group() -> None:
    """Download and inspect the IP range lists the classifier uses."""


@networks_group.command("update")
@click.option("--timeout", type=float, default=60, help="Seconds to wait for each download.")
@with_appcontext
def update_command(timeout: float) -> None:
    """Download every published range list into the instance folder."""
    folder = networks_dir(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, url in fetch_sources().items():
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                text = response.read().decode("utf-8", errors="replace")
            count = _save(name, text, folder)
        except (OSError, ValueError) as error:
            failed += 1
            click.echo(f"{name}: not updated ({error})", err=True)
            continue
        click.echo(f"{name}: {count} ranges")
    scanners = folder / SOURCES["scanners"].filename
    if not scanners.exists():
        scanners.write_text(BUILTIN_SCANNER_RANGES, encoding="utf-8")
    load_cached.cache_clear()
    if failed:
        raise click.exceptions.Exit(1)


def _save(name: str, text: str, folder: Path) -> int:
    """Validate text as source name's format, then replace its file atomically."""
    source = SOURCES[name]
    count = len(Networks(source.parse(text)))
    if count == 0:
        raise ValueError("no ranges in the file")
    target = folder / source.filename
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return count


@networks_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(sorted(KIND_TO_SOURCE)),
    default=None,
    help="Format of FILE; guessed from its name when left out.",
)
@with_appcontext
def load_command(file: Path, kind: str | None) -> None:
    """Check a downloaded range list and copy it into the instance folder."""
    if kind is None:
        kind = _guess_kind(file.name)
    folder = networks_dir(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    text = file.read_text(encoding="utf-8", errors="replace")
    try:
        count = _save(KIND_TO_SOURCE[kind], text, folder)
    except (ValueError, KeyError, TypeError) as error:
        raise click.ClickException(f"{file} is not a valid {kind} list: {error}") from error
    load_cached.cache_clear()
    click.echo(f"{kind}: {count} ranges loaded")


def _guess_kind(filename: str) -> str:
    lowered = filename.lower()
    for hint, kind in (("egress", "apple"), ("apple", "apple"), ("endpoint", "microsoft")):
        if hint in lowered:
            return kind
    if lowered.startswith("ip-ranges") or "aws" in lowered:
        return "aws"
    if "cloud" in lowered:
        return "google-cloud"
    if lowered.endswith((".txt", ".ranges")):
        return "scanners"
    raise click.UsageError("cannot tell the list's format from its name; pass --kind")


@networks_group.command("show")
@with_appcontext
def show_command() -> None:
    """Print how many ranges of each kind are loaded, and from which files."""
    folder = networks_dir(current_app.instance_path)
    networks = load_dir(folder)
    click.echo(f"folder: {folder}")
    for name, source in SOURCES.items():
        file = folder / source.filename
        state = f"{file.stat().st_size} bytes" if file.exists() else "missing"
        if name == "scanners" and not file.exists():
            state = "missing (built-in list in use)"
        click.echo(f"  {source.filename}: {state}")
    for kind, count in sorted(networks.counts.items()):
        click.echo(f"{kind}: {count}")
    if networks.skipped:
        click.echo(f"skipped (not a valid CIDR): {networks.skipped}")
    click.echo(f"total: {len(networks)}")


__all__ = ["classify_command", "get_networks", "networks_group"]
