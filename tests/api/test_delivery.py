"""Delivery events: the generic API and each ESP's signed post, statuses, stats and exclusions."""

import json

import pytest
from esp_signing import (
    CERT_URL,
    TOPIC,
    basic_auth,
    mailgun_signature,
    sendgrid_headers,
    sendgrid_keys,
    ses_notification,
    signed_sns,
    sns_certificate,
)

from app import create_app

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
SNS_KEY, SNS_PEM = sns_certificate()
SENDGRID_KEY, SENDGRID_PUBLIC = sendgrid_keys()
MAILGUN_KEY = "mailgun-signing-key"
POSTMARK = "postmark:s3cret"


@pytest.fixture
def fetched():
    """The URLs the app fetched (certificates and subscription confirmations)."""
    return []


@pytest.fixture
def app(tmp_path, fetched):
    def fetch(url):
        fetched.append(url)
        return SNS_PEM if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SNS_FETCH": fetch,
            "SENDGRID_PUBLIC_KEY": SENDGRID_PUBLIC,
            "MAILGUN_SIGNING_KEY": MAILGUN_KEY,
            "POSTMARK_CREDENTIALS": POSTMARK,
        }
    )
    yield app
    app.extensions["opentrack"].recorder.stop()
    app.extensions["opentrack"].store.close()


@pytest.fixture
def sent(client, auth, campaign):
    """nov-news sent to four recipients; returns their messages by address."""
    body = {"html": "<body>x</body>", "recipients": [f"{n}@x.org" for n in "abcd"]}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    return {m["recipient"]: m for m in response.get_json()["messages"]}


def generic(client, auth, *events):
    return client.post(
        "/api/v1/delivery-events/generic", json={"events": list(events)}, headers=auth
    )


def stats(client, auth):
    return client.get("/api/v1/campaigns/nov-news/stats", headers=auth).get_json()


def status(client, auth, message):
    answer = client.get(f"/api/v1/messages/{message['message_id']}", headers=auth).get_json()
    return answer["delivery_status"], answer["bounce_type"]


def test_generic_events_set_statuses_counts_and_rates(client, auth, sent, flush):
    a, b, c, d = (sent[f"{n}@x.org"] for n in "abcd")
    answer = generic(
        client,
        auth,
        {"message_id": a["message_id"], "event": "delivered", "at": "2026-12-01T10:00:00Z"},
        {"campaign": "nov-news", "recipient": "B@x.org", "event": "delivered", "at": 1764583200},
        {"message_id": c["message_id"], "event": "bounced", "bounce_type": "hard"},
        {"message_id": d["message_id"], "event": "delivered", "provider_event_id": "d1"},
        {"message_id": d["message_id"], "event": "complained", "provider_event_id": "d2"},
        {"message_id": "nobody-knows-this", "event": "delivered", "provider_event_id": "x1"},
    )
    assert answer.status_code == 200, answer.get_json()
    result = answer.get_json()
    assert (result["stored"], result["matched"], result["unmatched"]) == (6, 5, 1)
    assert status(client, auth, a) == ("delivered", None)
    assert status(client, auth, b) == ("delivered", None)
    assert status(client, auth, c) == ("bounced", "hard")
    assert status(client, auth, d) == ("complained", None)

    # a opens: over tracked 1 of 4 opened, over delivered 1 of 3 (a, b, and d who complained).
    client.get("/o/" + a["pixel_url"].split("/o/")[1], headers={"User-Agent": IPHONE})
    flush()
    numbers = stats(client, auth)
    assert (numbers["delivered"], numbers["bounced"], numbers["complained"]) == (3, 1, 1)
    assert numbers["hard_bounced"] == 1 and numbers["soft_bounced"] == 0
    over = numbers["rates_by_base"]
    assert over["tracked"]["human_open_rate"] == {
        "rate": 0.25,
        "count": 1,
        "messages": 4,
        "of": "tracked",
    }
    assert over["delivered"]["human_open_rate"] == {
        "rate": 0.3333,
        "count": 1,
        "messages": 3,
        "of": "delivered",
    }
    assert over["delivered"]["click_to_open_rate"]["of"] == "delivered and opened"

    # The replay of a provider event is stored once and moves nothing.
    again = generic(
        client,
        auth,
        {"message_id": d["message_id"], "event": "complained", "provider_event_id": "d2"},
    ).get_json()
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert stats(client, auth)["complained"] == 1

    # The unknown message is counted and listed, never an error.
    unmatched = client.get("/api/v1/delivery-events?matched=false", headers=auth).get_json()
    assert unmatched["counts"] == {"matched": 5, "unmatched": 1}
    assert [e["message_id"] for e in unmatched["events"]] == ["nobody-knows-this"]


def test_status_only_moves_up(client, auth, sent):
    a = sent["a@x.org"]
    events = [
        {"message_id": a["message_id"], "event": "deferred", "at": "2026-12-01T10:00:00Z"},
        {"message_id": a["message_id"], "event": "bounced", "at": "2026-12-01T10:05:00Z"},
        {"message_id": a["message_id"], "event": "delivered", "at": "2026-12-01T11:00:00Z"},
        {"message_id": a["message_id"], "event": "deferred", "at": "2026-12-01T12:00:00Z"},
    ]
    generic(client, auth, *events)
    assert status(client, auth, a) == ("delivered", None)
    numbers = stats(client, auth)
    assert (numbers["delivered"], numbers["soft_bounced"], numbers["deferred"]) == (1, 0, 0)
    generic(
        client, auth, {"message_id": a["message_id"], "event": "bounced", "bounce_type": "hard"}
    )
    numbers = stats(client, auth)
    assert (numbers["delivered"], numbers["hard_bounced"]) == (0, 1)


def test_exports_and_follow_ups_leave_out_bounced_complained_unsubscribed(client, auth, sent):
    ids = {n: sent[f"{n}@x.org"]["message_id"] for n in "abcd"}
    generic(
        client,
        auth,
        {"message_id": ids["a"], "event": "bounced", "bounce_type": "soft"},
        {"message_id": ids["b"], "event": "complained"},
        {"message_id": ids["c"], "event": "unsubscribed"},
    )
    export = client.get("/api/v1/campaigns/nov-news/non-openers", headers=auth).get_json()
    assert [r["recipient"] for r in export["recipients"]] == ["d@x.org"]
    follow_up = client.post(
        "/api/v1/campaigns/nov-news/follow-ups", json={"id": "again"}, headers=auth
    ).get_json()
    assert [r["recipient"] for r in follow_up["recipients"]] == ["d@x.org"]
    assert stats(client, auth)["unsubscribed"] == 1


def test_suppress_bounces_setting_fills_the_suppression_list_with_reasons(app, client, auth, sent):
    app.config["SUPPRESS_BOUNCES"] = True
    generic(
        client,
        auth,
        {"message_id": sent["a@x.org"]["message_id"], "event": "bounced", "bounce_type": "hard"},
        {"message_id": sent["b@x.org"]["message_id"], "event": "complained"},
        {"message_id": sent["c@x.org"]["message_id"], "event": "bounced", "bounce_type": "soft"},
    )
    client.post("/api/v1/suppressions", json={"recipient": "z@x.org"}, headers=auth)
    listed = client.get("/api/v1/suppressions", headers=auth).get_json()["suppressions"]
    reasons = {row["recipient"]: row["reason"] for row in listed}
    assert reasons == {"a@x.org": "hard_bounce", "b@x.org": "complaint", "z@x.org": "opt_out"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "events"),
        ({"events": []}, "events"),
        ({"events": [{"event": "delivered"}]}, "events[0].message_id"),
        ({"events": [{"message_id": "m", "event": "opened"}]}, "events[0].event"),
        ({"events": [{"message_id": "m", "event": "bounced", "bounce_type": "x"}]}, "bounce_type"),
        ({"events": [{"message_id": "m", "event": "delivered", "at": "soon"}]}, "events[0].at"),
        ({"events": [{"message_id": "m", "event": "delivered", "colour": 1}]}, "colour"),
        (
            {"events": [{"campaign": "Bad Id", "recipient": "a@x", "event": "delivered"}]},
            "campaign",
        ),
        ({"events": [], "extra": 1}, "extra"),
    ],
)
def test_malformed_generic_bodies_are_400_naming_the_problem(client, auth, sent, body, named):
    response = client.post("/api/v1/delivery-events/generic", json=body, headers=auth)
    assert response.status_code == 400
    assert named in response.get_json()["error"]["message"]
    assert client.get("/api/v1/delivery-events", headers=auth).get_json()["counts"] == {
        "matched": 0,
        "unmatched": 0,
    }


def test_generic_needs_an_api_key(client, sent):
    body = {"events": [{"message_id": sent["a@x.org"]["message_id"], "event": "delivered"}]}
    assert client.post("/api/v1/delivery-events/generic", json=body).status_code == 401


# --- Amazon SES through SNS -----------------------------------------------------------------


def post_sns(client, message):
    return client.post(
        "/api/v1/delivery-events/ses",
        data=json.dumps(message),
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "x"},
    )


def test_ses_notifications_verified_against_the_signing_certificate(client, auth, sent, fetched):
    a, b = sent["a@x.org"], sent["b@x.org"]
    delivered = ses_notification(SNS_KEY, "Delivery", "a@x.org", a["message_id"])
    answer = post_sns(client, delivered)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["matched"] == 1
    assert status(client, auth, a) == ("delivered", None)
    # The same notification again (SNS retries): stored once; the certificate fetched once.
    assert post_sns(client, delivered).get_json()["duplicates"] == 1
    bounce = ses_notification(
        SNS_KEY, "Bounce", "b@x.org", b["message_id"], bounce_type="Transient"
    )
    assert post_sns(client, bounce).status_code == 200
    assert status(client, auth, b) == ("bounced", "soft")
    assert fetched == [CERT_URL]


def test_ses_forged_or_tampered_posts_are_401_and_change_nothing(client, auth, sent):
    a = sent["a@x.org"]
    other_key, _ = sns_certificate()
    forged = ses_notification(other_key, "Complaint", "a@x.org", a["message_id"])
    assert post_sns(client, forged).status_code == 401
    tampered = ses_notification(SNS_KEY, "Delivery", "a@x.org", a["message_id"])
    tampered["Message"] = tampered["Message"].replace("Delivery", "Complaint")
    assert post_sns(client, tampered).status_code == 401
    unsigned = {**ses_notification(SNS_KEY, "Delivery", "a@x.org", a["message_id"])}
    unsigned["Signature"] = ""
    assert post_sns(client, unsigned).status_code == 401
    elsewhere = ses_notification(SNS_KEY, "Delivery", "a@x.org", a["message_id"])
    elsewhere["SigningCertURL"] = "https://evil.example.com/cert.pem"
    assert post_sns(client, elsewhere).status_code == 401
    plain_http = {**elsewhere, "SigningCertURL": CERT_URL.replace("https", "http")}
    assert post_sns(client, plain_http).status_code == 401
    assert status(client, auth, a) == ("unknown", None)
    assert client.get("/api/v1/delivery-events", headers=auth).get_json()["counts"]["matched"] == 0


def test_ses_subscription_confirmation_visits_the_subscribe_url(client, fetched):
    url = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    message = signed_sns(
        SNS_KEY,
        {
            "Type": "SubscriptionConfirmation",
            "Message": "confirm",
            "Token": "abc",
            "SubscribeURL": url,
        },
    )
    answer = post_sns(client, message)
    assert answer.status_code == 200 and answer.get_json() == {"confirmed": TOPIC}
    assert fetched == [CERT_URL, url]


def test_ses_topic_setting_refuses_other_topics(app, client, sent):
    app.config["SES_TOPIC_ARNS"] = "arn:aws:sns:eu-west-1:123456789012:other"
    message = ses_notification(SNS_KEY, "Delivery", "a@x.org", sent["a@x.org"]["message_id"])
    assert post_sns(client, message).status_code == 401


def test_ses_malformed_notification_is_400(client):
    message = signed_sns(SNS_KEY, {"Type": "Notification", "Message": "not json"})
    answer = post_sns(client, message)
    assert answer.status_code == 400 and "Message" in answer.get_json()["error"]["message"]
    assert post_sns(client, {"Type": "Nope"}).status_code == 400


# --- SendGrid, Mailgun, Postmark ------------------------------------------------------------


def test_sendgrid_events_need_their_ecdsa_signature(client, auth, sent):
    a, b = sent["a@x.org"], sent["b@x.org"]
    events = [
        {"email": "a@x.org", "event": "delivered", "timestamp": 1764583200,
         "sg_event_id": "sg-1", "opentrack_message_id": a["message_id"]},
        {"email": "b@x.org", "event": "bounce", "type": "bounce", "timestamp": 1764583201,
         "sg_event_id": "sg-2", "opentrack_campaign": "nov-news"},
        {"email": "b@x.org", "event": "open", "timestamp": 1764583202, "sg_event_id": "sg-3"},
    ]  # fmt: skip
    body = json.dumps(events).encode()
    url = "/api/v1/delivery-events/sendgrid"
    forged = sendgrid_headers(sendgrid_keys()[0], body, "1764583300")
    assert client.post(url, data=body, headers=forged).status_code == 401
    assert (
        client.post(url, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    )
    assert status(client, auth, a) == ("unknown", None)
    answer = client.post(url, data=body, headers=sendgrid_headers(SENDGRID_KEY, body, "1764583300"))
    assert answer.status_code == 200
    assert (answer.get_json()["matched"], answer.get_json()["ignored"]) == (2, 1)
    assert status(client, auth, a) == ("delivered", None)
    assert status(client, auth, b) == ("bounced", "hard")
    bad = b'{"not": "a list"}'
    assert (
        client.post(url, data=bad, headers=sendgrid_headers(SENDGRID_KEY, bad, "1")).status_code
        == 400
    )


def test_mailgun_events_need_their_hmac(client, auth, sent):
    a = sent["a@x.org"]
    data = {
        "event": "failed", "severity": "permanent", "recipient": "a@x.org", "id": "mg-1",
        "timestamp": 1764583200.5, "user-variables": {"opentrack_message_id": a["message_id"]},
    }  # fmt: skip
    url = "/api/v1/delivery-events/mailgun"
    wrong = {"signature": mailgun_signature("other-key"), "event-data": data}
    assert client.post(url, json=wrong).status_code == 401
    assert client.post(url, json={"event-data": data}).status_code == 401
    right = {"signature": mailgun_signature(MAILGUN_KEY), "event-data": data}
    assert client.post(url, json=right).status_code == 200
    assert status(client, auth, a) == ("bounced", "hard")
    assert client.post(url, json=right).get_json()["duplicates"] == 1
    assert (
        client.post(url, data=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    )


def test_postmark_events_need_basic_auth(client, auth, sent):
    a = sent["a@x.org"]
    post = {
        "RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint", "Email": "a@x.org",
        "BouncedAt": "2026-12-01T12:00:00Z", "Metadata": {"opentrack_message_id": a["message_id"]},
    }  # fmt: skip
    url = "/api/v1/delivery-events/postmark"
    assert client.post(url, json=post).status_code == 401
    assert client.post(url, json=post, headers=basic_auth("postmark:wrong")).status_code == 401
    assert status(client, auth, a) == ("unknown", None)
    assert client.post(url, json=post, headers=basic_auth(POSTMARK)).status_code == 200
    assert status(client, auth, a) == ("complained", None)
    delivery = {
        "RecordType": "Delivery", "MessageID": "pm-1", "Recipient": "b@x.org",
        "DeliveredAt": "2026-12-01T12:00:00Z", "Metadata": {"opentrack_campaign": "nov-news"},
    }  # fmt: skip
    assert client.post(url, json=delivery, headers=basic_auth(POSTMARK)).get_json()["matched"] == 1
    assert status(client, auth, sent["b@x.org"]) == ("delivered", None)
    missing = {"RecordType": "Bounce", "Email": "a@x.org"}
    answer = client.post(url, json=missing, headers=basic_auth(POSTMARK))
    assert answer.status_code == 400 and "ID" in answer.get_json()["error"]["message"]


def test_unconfigured_provider_is_refused(tmp_path, auth):
    bare = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "bare")})
    try:
        answer = bare.test_client().post("/api/v1/delivery-events/mailgun", json={})
        assert answer.status_code == 401
        assert "OPENTRACK_MAILGUN_SIGNING_KEY" in answer.get_json()["error"]["message"]
    finally:
        bare.extensions["opentrack"].recorder.stop()
        bare.extensions["opentrack"].store.close()


def test_erasure_and_deletion_reach_delivery_events(client, auth, sent, store):
    a = sent["a@x.org"]
    generic(client, auth, {"message_id": a["message_id"], "event": "delivered"})
    data = client.get("/api/v1/recipients/a@x.org", headers=auth).get_json()
    assert data["messages"][0]["delivery_events"][0]["event"] == "delivered"
    erased = client.delete("/api/v1/recipients/a@x.org", headers=auth).get_json()["erased"]
    assert erased["delivery_events"] == 1
    assert store.list_delivery_events(None, 10, 0)[0]["recipient"] is None
    generic(client, auth, {"message_id": sent["b@x.org"]["message_id"], "event": "delivered"})
    assert client.delete("/api/v1/campaigns/nov-news", headers=auth).status_code == 204
    assert store.count_delivery_events() == {"matched": 0, "unmatched": 0}
