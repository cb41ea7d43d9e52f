import json
import os
import subprocess
import sys
from pathlib import Path

HTML = "<body>x</body>"


def test_keys_create_prints_the_key_alone(runner):
    result = runner.invoke(args=["keys", "create", "sender"])
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("otk_")


def test_keys_create_twice_fails(runner):
    runner.invoke(args=["keys", "create", "sender"])
    result = runner.invoke(args=["keys", "create", "sender"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_keys_list_never_shows_the_key(runner):
    key = runner.invoke(args=["keys", "create", "sender"]).stdout.strip()
    result = runner.invoke(args=["keys", "list"])
    assert result.exit_code == 0
    assert "sender" in result.stdout
    assert key[:8] in result.stdout
    assert key not in result.stdout


def test_keys_revoke(runner):
    runner.invoke(args=["keys", "create", "sender"])
    assert runner.invoke(args=["keys", "revoke", "sender"]).exit_code == 0
    assert "revoked" in runner.invoke(args=["keys", "list"]).stdout
    again = runner.invoke(args=["keys", "revoke", "sender"])
    assert again.exit_code != 0
    assert "no active API key" in again.output


def test_init_prints_a_first_key_only_once(runner):
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0
    assert first.stdout.strip().startswith("otk_")
    second = runner.invoke(args=["init"])
    assert second.exit_code == 0
    assert second.stdout.strip() == ""


def test_unknown_campaign_is_an_error(runner):
    for args in (["stats", "nope"], ["export-non-openers", "nope"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert "no campaign with id 'nope'" in result.output


def test_stats_and_export(runner, client, auth, campaign, flush, tmp_path):
    body = {"html": HTML, "recipients": ["a@x", "b@x", "c@x"]}
    messages = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth).get_json()[
        "messages"
    ]
    client.get(
        "/o/" + messages[0]["pixel_url"].split("/o/")[1], headers={"User-Agent": "Mozilla/5.0"}
    )
    flush()
    result = runner.invoke(args=["stats", "nov-news"])
    assert "unknown" in result.stdout
    numbers = json.loads(runner.invoke(args=["stats", "nov-news", "--json"]).stdout)
    assert (numbers["sent"], numbers["unknown"], numbers["not_opened"]) == (3, 1, 2)

    output = tmp_path / "out.json"
    result = runner.invoke(
        args=["export-non-openers", "nov-news", "--format", "json", "--output", str(output)]
    )
    assert result.exit_code == 0
    rows = json.loads(output.read_text())["recipients"]
    assert sorted(row["recipient"] for row in rows) == ["b@x", "c@x"]
    result = runner.invoke(args=["export-non-openers", "nov-news", "--include-unknown"])
    assert len(result.stdout.splitlines()) == 4
    result = runner.invoke(args=["export-non-openers", "nov-news", "--min-age-hours", "-1"])
    assert result.exit_code != 0


def test_the_main_help_lists_only_opentracks_commands(tmp_path):
    opentrack = Path(sys.executable).parent / "opentrack"
    env = {**os.environ, "OPENTRACK_INSTANCE_PATH": str(tmp_path / "instance")}
    shown = subprocess.run([opentrack, "--help"], env=env, capture_output=True, text=True)
    assert shown.returncode == 0 and "campaigns" in shown.stdout
    commands = shown.stdout.split("Commands:")[1].split()
    for flask_only in ("run", "shell", "routes", "dev"):
        assert flask_only not in commands
    assert "--env-file" not in shown.stdout and "--app" not in shown.stdout
    routes = subprocess.run([opentrack, "dev", "routes"], env=env, capture_output=True, text=True)
    assert routes.returncode == 0 and "/api/v1/campaigns" in routes.stdout
