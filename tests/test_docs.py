"""The README is the manual: every setting, route and command must be in it."""

from pathlib import Path

import pytest

from app.settings import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_is_documented(name):
    assert f"`OPENTRACK_{name}`" in README


def test_every_api_route_is_documented(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.rule.replace("<campaign_id>", "<id>")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert f"`{method} {path}" in README, f"{method} {rule.rule} is not in the README"


def test_every_command_is_documented(app):
    for name, command in app.cli.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in subcommands:
                assert f"`opentrack {name} {sub}" in README, f"opentrack {name} {sub}"
        else:
            assert f"`opentrack {name}" in README, f"opentrack {name}"


def test_readme_opens_with_the_two_commands():
    first_block = README.split("```")[1]
    assert "./scripts/serve" in first_block
    assert "./scripts/test" in first_block


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
