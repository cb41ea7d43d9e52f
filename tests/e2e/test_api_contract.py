"""The API against its own OpenAPI document, on a real gunicorn: schemathesis generates requests
from the document (valid and invalid ones, a bounded number per operation, then short sequences
that follow the document's links from a created resource to its operations) and checks that
none answers 500, that each status is documented, and that every answer matches its schema."""

import re
import subprocess

import pytest
import requests
from gunicorn_server import BIN, Server
from openapi_spec_validator import validate

pytestmark = pytest.mark.slow

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    # Data the document calls invalid must be refused with a 4xx: the document is as strict
    # as the server.
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Webhook URLs are not resolved: schemathesis would send the resolver made-up host names.
    server = Server(
        tmp_path_factory.mktemp("contract") / "instance",
        {"OPENTRACK_WEBHOOK_ALLOW_PRIVATE": "true"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(server):
    result = server.cli("keys", "create", "schemathesis")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_served_document_is_valid_and_public(server):
    response = requests.get(server.url + "/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert "/api/v1/campaigns/{campaign_id}/inject" in document["paths"]


def test_schemathesis_finds_no_error_and_no_answer_off_its_schema(server, key, tmp_path):
    # Some data to find: a campaign with messages, so generated ids sometimes hit real rows.
    auth = {"Authorization": f"Bearer {key}"}
    requests.post(server.url + "/api/v1/campaigns", json={"id": "a"}, headers=auth, timeout=30)
    requests.post(
        server.url + "/api/v1/campaigns/a/inject",
        json={"recipients": ["a@x.org", "b@x.org"], "html": "<a href='https://x.org/'>x</a>"},
        headers=auth,
        timeout=30,
    )
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            server.url + "/api/v1/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "coverage,fuzzing,stateful",
            "--max-examples",
            "10",
            "--seed",
            "20261201",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--header",
            f"Authorization: Bearer {key}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=540,
        # Its cache of found failures goes to the test's folder, not the checkout.
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # Every operation of the document was tested.
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, result.stdout[-3000:]
    assert selected[1] == selected[2] == tested[1]
