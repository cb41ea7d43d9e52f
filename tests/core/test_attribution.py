import pytest

from app.core.attribution import (
    LandingTagger,
    attribution_serializer,
    mint_ot,
    read_ot,
    with_ot,
)
from app.core.tokens import click_serializer, mint_click_token

SIGNER = attribution_serializer(["old", "new"])


def test_ot_round_trip_names_only_message_and_link():
    token = mint_ot(SIGNER, "msg123", 7)
    assert read_ot(SIGNER, token) == ("msg123", 7)
    assert read_ot(
        attribution_serializer(["old"]), mint_ot(attribution_serializer(["old"]), "m", 1)
    )
    # Rotated keys: a token signed by the old key still reads.
    assert read_ot(SIGNER, mint_ot(attribution_serializer(["old"]), "m", 1)) == ("m", 1)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        mint_ot(SIGNER, "msg123", 7)[:-2] + "xx",
        mint_ot(attribution_serializer(["other"]), "msg123", 7),
        SIGNER.dumps("msg123"),
        SIGNER.dumps(["msg123", True]),
        SIGNER.dumps(["msg123", "7"]),
        # A click token is signed with the same keys but another salt: not an ot.
        mint_click_token(click_serializer(["old", "new"]), "msg123", 7),
    ],
)
def test_tampered_or_foreign_tokens_are_not_ours(token):
    assert read_ot(SIGNER, token) is None


@pytest.mark.parametrize(
    ("url", "tagged"),
    [
        ("https://shop.example/", "https://shop.example/?ot=T"),
        ("https://shop.example/p?x=1", "https://shop.example/p?x=1&ot=T"),
        ("https://shop.example/p?x=1#top", "https://shop.example/p?x=1&ot=T#top"),
        ("https://shop.example/p#a?b", "https://shop.example/p?ot=T#a?b"),
        ("https://shop.example/p?", "https://shop.example/p?ot=T"),
        ("https://shop.example/p?a=%20b&c=d&", "https://shop.example/p?a=%20b&c=d&ot=T"),
    ],
)
def test_with_ot_keeps_the_links_query_and_fragment(url, tagged):
    assert with_ot(url, "T") == tagged


def test_the_tagger_tags_only_messages_that_asked():
    asked = {"yes"}
    tagger = LandingTagger(SIGNER, lambda message_id: message_id in asked)
    assert tagger.tag("no", 1, "https://x.example/") == "https://x.example/"
    tagged = tagger.tag("yes", 1, "https://x.example/")
    assert read_ot(SIGNER, tagged.split("ot=")[1]) == ("yes", 1)


def test_a_failing_lookup_leaves_the_landing_url_as_it_was():
    def broken(message_id):
        raise RuntimeError("database down")

    assert LandingTagger(SIGNER, broken).tag("m", 1, "https://x.example/") == "https://x.example/"


def test_the_tagger_honours_gpc_and_dnt():
    tagger = LandingTagger(SIGNER, lambda message_id: True)
    assert tagger.tag("m", 1, "https://x.example/", {"HTTP_DNT": "1"}) == "https://x.example/"
    assert "ot=" in tagger.tag("m", 1, "https://x.example/", {"HTTP_DNT": "0"})
    keeps_none = LandingTagger(SIGNER, lambda message_id: True, honor_gpc=False)
    assert "ot=" in keeps_none.tag("m", 1, "https://x.example/", {"HTTP_SEC_GPC": "1"})
