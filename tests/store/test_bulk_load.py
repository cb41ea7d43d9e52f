"""The demo seeder's bulk load leaves every counter as recording one fetch at a time would.

scripts/seed_demo.py writes rows straight into the store's tables (Store.load_traffic) and
then rebuilds the counters (Store.finish_load); the dashboard's page times in the docs are
measured on what it loads, so its counters must be the ones a recount gives.
"""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parent.parent.parent / "scripts" / "seed_demo.py"


def seed_demo():
    spec = importlib.util.spec_from_file_location("seed_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(store, sql: str) -> list[dict]:
    return [dict(row) for row in store.db.execute(sql)]


def campaign_counters(store) -> dict:
    return {
        "campaigns": rows(store, "SELECT * FROM campaigns ORDER BY id"),
        "messages": rows(store, "SELECT id, state, human_opens, opens FROM messages ORDER BY id"),
        "hours": rows(store, "SELECT * FROM campaign_hours ORDER BY campaign_id, hour"),
        "breakdowns": rows(store, "SELECT * FROM campaign_breakdowns ORDER BY 1, 2, 3"),
        "first_opens": rows(store, "SELECT * FROM campaign_first_opens ORDER BY 1, 2"),
    }


def test_seeded_counters_equal_a_recount(app, store):
    seeder = seed_demo()
    seeder.seed_campaign(app, "launch", "Launch", 1_200, 3_600, 9)
    follow_up = seeder.seed_follow_up(app, "launch")
    launch = store.get_campaign("launch")
    assert launch["sent"] == 1_200 and store.get_campaign(follow_up)["sent"] > 0
    kept = campaign_counters(store)
    engagement = rows(store, "SELECT * FROM engagement ORDER BY recipient")
    assert len(engagement) == 1_200
    for campaign_id in ("launch", follow_up):
        store.rebuild_counters(campaign_id)
    assert campaign_counters(store) == kept
    store.rebuild_engagement()
    assert rows(store, "SELECT * FROM engagement ORDER BY recipient") == engagement
