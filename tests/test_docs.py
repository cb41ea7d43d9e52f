"""The docs are the manual: every setting, route and command is on its page, and every link works.

README.md is the front door and docs/ holds one page per topic: settings in docs/settings.md, the
API's routes in docs/api.md, the `opentrack` commands in docs/cli.md.
"""

import re
from pathlib import Path

import pytest

from app.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

# [text](target): the target up to a space (an optional "title") or the closing parenthesis.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def page(name):
    return (DOCS / name).read_text()


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_is_documented(name):
    assert f"`OPENTRACK_{name}`" in page("settings.md")


def test_every_api_route_is_documented(app):
    api = page("api.md")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule.replace("<campaign_id>", "<id>")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert f"`{method} {path}" in api, f"{method} {rule.rule} is not in docs/api.md"


def test_every_command_is_documented(app):
    cli = page("cli.md")
    for name, command in app.cli.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in subcommands:
                assert f"`opentrack {name} {sub}" in cli, f"opentrack {name} {sub}"
        else:
            assert f"`opentrack {name}" in cli, f"opentrack {name}"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "./scripts/serve" in first_block
    assert "./scripts/test" in first_block


def relative_links(path):
    """The file targets of a Markdown file's relative links, without their #fragment."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)  # no links in code
    text = re.sub(r"`[^`\n]*`", "", text)
    for target in LINK.findall(text):
        if re.match(r"(https?|mailto):", target, re.IGNORECASE) or target.startswith("#"):
            continue
        yield target.split("#", 1)[0]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    missing = [target for target in relative_links(path) if not (path.parent / target).exists()]
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("HONOR_GPC", "off", False),
        ("HONOR_GPC", "False", False),
        ("WEBHOOK_ALLOW_PRIVATE", "False", False),
        ("WEBHOOK_ALLOW_PRIVATE", "yes", True),
        ("PROXY_HOPS", "2", 2),
        ("FLUSH_SECONDS", "0.2", 0.2),
        ("RETENTION_DAYS", 30, 30.0),
    ],
)
def test_settings_from_words_are_parsed(tmp_path, monkeypatch, name, raw, value):
    from app import create_app

    monkeypatch.setenv(f"OPENTRACK_{name}", str(raw))
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config[name] == value
    app.extensions["opentrack"].recorder.stop()


@pytest.mark.parametrize(
    ("name", "raw"), [("HONOR_GPC", "maybe"), ("PROXY_HOPS", "two"), ("MAX_BATCH", "-5")]
)
def test_odd_settings_stop_the_start_with_a_message(tmp_path, monkeypatch, name, raw):
    from app import create_app

    monkeypatch.setenv(f"OPENTRACK_{name}", raw)
    with pytest.raises(ValueError, match=f"OPENTRACK_{name}"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
