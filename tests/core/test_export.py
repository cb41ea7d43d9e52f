import csv
import io
import json

import pytest

from app.core.export import COLUMNS, csv_lines, json_chunks, neutralise


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("ann@example.com", "ann@example.com"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        (None, ""),
        (3, "3"),
        ({"plan": "=pro"}, '{"plan":"=pro"}'),
    ],
)
def test_neutralise(value, cell):
    assert neutralise(value) == cell


def test_csv_has_header_and_rows():
    rows = [{"recipient": "=cmd|' /C calc'!A0", "state": "not_opened", "opens": 0}]
    parsed = list(csv.reader(io.StringIO("".join(csv_lines(rows)))))
    assert parsed[0] == list(COLUMNS)
    assert parsed[1][0] == "'=cmd|' /C calc'!A0"
    assert parsed[1][4] == "0"


def test_json_chunks_is_valid_json():
    rows = ({"recipient": f"r{i}", "state": "not_opened"} for i in range(3))
    document = json.loads("".join(json_chunks(rows, {"campaign_id": "c"})))
    assert document["campaign_id"] == "c"
    assert [row["recipient"] for row in document["recipients"]] == ["r0", "r1", "r2"]


def test_json_chunks_empty():
    assert json.loads("".join(json_chunks([], {"campaign_id": "c"})))["recipients"] == []
