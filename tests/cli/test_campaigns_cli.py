"""The `opentrack campaigns` commands: list, create, show, rename, archive and delete."""

import json

import pytest


def run(runner, *args, **kwargs):
    return runner.invoke(args=["campaigns", *args], **kwargs)


@pytest.fixture
def made(runner):
    result = run(runner, "create", "nov-news", "--name", "November")
    assert result.exit_code == 0, result.output
    return "nov-news"


def test_create_and_list(runner, store, made):
    assert run(runner, "create", "plain", "--no-track", "--track-clicks").exit_code == 0
    plain = store.get_campaign("plain")
    assert plain["name"] == "plain" and plain["track"] is False and plain["track_clicks"] is True
    nov = store.get_campaign("nov-news")
    assert nov["name"] == "November" and nov["track"] is True and nov["track_clicks"] is False
    result = run(runner, "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "created", "sent", "human", "open"]
    assert {line.split()[0] for line in lines[1:]} == {"nov-news", "plain"}
    assert all(line.split()[-1] == "-" for line in lines[1:])  # nothing sent, no rate


def test_list_json(runner, made):
    result = run(runner, "list", "--json")
    [campaign] = json.loads(result.stdout)
    assert campaign["id"] == "nov-news" and campaign["sent"] == 0
    assert "human_open_rate" in campaign and campaign["archived_at"] is None


def test_list_when_empty(runner):
    result = run(runner, "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert run(runner, "list", "--json").stdout.strip() == "[]"


def test_create_errors(runner, made):
    taken = run(runner, "create", "nov-news")
    assert taken.exit_code != 0 and "already exists" in taken.output
    bad = run(runner, "create", "Not A Slug")
    assert bad.exit_code != 0 and "'id' must be a slug" in bad.output
    long_name = run(runner, "create", "ok", "--name", "x" * 201)
    assert long_name.exit_code != 0 and "'name' must be at most 200" in long_name.output


def test_show_prints_what_stats_prints(runner, made):
    for flags in ((), ("--json",)):
        shown = run(runner, "show", "nov-news", *flags)
        stats = runner.invoke(args=["stats", "nov-news", *flags])
        assert shown.exit_code == 0 and shown.stdout == stats.stdout
    assert "November (nov-news)" in run(runner, "show", "nov-news").stdout
    assert json.loads(run(runner, "show", "nov-news", "--json").stdout)["id"] == "nov-news"


def test_rename(runner, store, made):
    assert run(runner, "rename", "nov-news", "  Nov letter ").exit_code == 0
    assert store.get_campaign("nov-news")["name"] == "Nov letter"
    empty = run(runner, "rename", "nov-news", " ")
    assert empty.exit_code != 0 and "'name'" in empty.output
    assert store.get_campaign("nov-news")["name"] == "Nov letter"


def test_sender(runner, store, made):
    assert run(runner, "create", "acme", "--sender", " Acme Shop ").exit_code == 0
    assert store.get_campaign("acme")["sender_name"] == "Acme Shop"
    assert store.get_campaign("nov-news")["sender_name"] is None
    assert run(runner, "set-sender", "nov-news", "Nov Shop").exit_code == 0
    assert store.get_campaign("nov-news")["sender_name"] == "Nov Shop"
    too_long = run(runner, "set-sender", "nov-news", "x" * 201)
    assert too_long.exit_code != 0 and "'sender' must be at most 200" in too_long.output
    assert run(runner, "set-sender", "nov-news").exit_code != 0  # neither SENDER nor --clear
    assert run(runner, "set-sender", "nov-news", "--clear").exit_code == 0
    assert store.get_campaign("nov-news")["sender_name"] is None
    bad = run(runner, "create", "bad", "--sender", " ")
    assert bad.exit_code != 0 and store.get_campaign("bad") is None


def test_archive_and_unarchive(runner, store, made):
    assert run(runner, "archive", "nov-news").exit_code == 0
    assert store.get_campaign("nov-news")["archived_at"]
    assert run(runner, "list").stdout == ""
    archived = run(runner, "list", "--archived").stdout
    assert "nov-news" in archived and "(archived)" in archived
    assert run(runner, "unarchive", "nov-news").exit_code == 0
    assert store.get_campaign("nov-news")["archived_at"] is None
    assert "nov-news" in run(runner, "list").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nope"),
        ("rename", "nope", "Name"),
        ("set-sender", "nope", "Acme"),
        ("archive", "nope"),
        ("unarchive", "nope"),
        ("delete", "nope", "--yes"),
        ("delete", "nope"),
    ],
)
def test_unknown_campaign_is_an_error(runner, args):
    result = run(runner, *args)
    assert result.exit_code != 0
    assert "no campaign with id 'nope'" in result.output


def test_delete_asks_to_type_the_id(runner, store, made):
    wrong = run(runner, "delete", "nov-news", input="nov\n")
    assert wrong.exit_code != 0 and "nothing was deleted" in wrong.output
    assert store.get_campaign("nov-news") is not None
    assert store.campaign_deletions() == []
    nothing = run(runner, "delete", "nov-news", input="\n")
    assert nothing.exit_code != 0 and store.get_campaign("nov-news") is not None
    right = run(runner, "delete", "nov-news", input="nov-news\n")
    assert right.exit_code == 0, right.output
    assert store.get_campaign("nov-news") is None
    [audit] = store.campaign_deletions()
    assert audit["actor"] == "cli" and audit["messages"] == 0


def test_delete_with_yes_asks_nothing(runner, store, made):
    result = run(runner, "delete", "nov-news", "--yes")
    assert result.exit_code == 0 and "Deleted campaign 'nov-news'" in result.output
    assert store.get_campaign("nov-news") is None
