import pytest

from app.core.tokens import mint_token, new_message_id, pixel_serializer, read_token

KEY = "k1-secret"


@pytest.fixture
def serializer():
    return pixel_serializer([KEY])


def test_round_trip(serializer):
    message_id = new_message_id()
    assert read_token(serializer, mint_token(serializer, message_id)) == message_id


def test_same_message_same_token(serializer):
    assert mint_token(serializer, "abc") == mint_token(serializer, "abc")


def test_token_reveals_no_address(serializer):
    token = mint_token(serializer, new_message_id())
    assert "@" not in token


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1],
        lambda t: t[:10],
        lambda t: t + "x",
        lambda t: "A" + t[1:],
        lambda t: t.replace(".", "!"),
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: ".",
        lambda t: "..",
        lambda t: "ünïcödé.sig",
        lambda t: "%00%ff",
        lambda t: "a" * 5000,
    ],
)
def test_tampered_tokens_are_rejected(serializer, tamper):
    token = mint_token(serializer, "message-1")
    assert read_token(serializer, tamper(token)) is None


def test_foreign_key_is_rejected(serializer):
    foreign = pixel_serializer(["someone-elses-secret"])
    assert read_token(serializer, mint_token(foreign, "message-1")) is None


def test_foreign_salt_is_rejected(serializer):
    from itsdangerous import URLSafeSerializer

    other_purpose = URLSafeSerializer(KEY, salt="opentrack.other")
    assert read_token(serializer, other_purpose.dumps("message-1")) is None


def test_signed_non_string_payload_is_rejected(serializer):
    assert read_token(serializer, serializer.dumps({"id": 1})) is None


def test_key_rotation_old_tokens_verify_newest_signs():
    old = pixel_serializer(["old"])
    rotated = pixel_serializer(["old", "new"])
    new_only = pixel_serializer(["new"])
    old_token = mint_token(old, "m1")
    assert read_token(rotated, old_token) == "m1"
    fresh = mint_token(rotated, "m1")
    assert fresh != old_token
    assert read_token(new_only, fresh) == "m1"
    assert read_token(old, fresh) is None


def test_no_keys_is_an_error():
    with pytest.raises(ValueError):
        pixel_serializer([])


def test_the_kept_signer_reads_and_makes_the_tokens_plain_itsdangerous_does():
    from itsdangerous import URLSafeSerializer

    keys = ["an older secret", "the newest secret"]
    plain = URLSafeSerializer(keys, salt="opentrack.pixel")
    fast = pixel_serializer(keys)
    for message_id in ["m1", "x" * 200, "é-ü"]:
        assert fast.dumps(message_id) == plain.dumps(message_id)
        assert read_token(fast, plain.dumps(message_id)) == message_id
    # A token signed by the older key alone still verifies; one of another salt does not.
    older = URLSafeSerializer(keys[:1], salt="opentrack.pixel").dumps("m2")
    assert read_token(fast, older) == "m2"
    assert read_token(fast, URLSafeSerializer(keys, salt="opentrack.optout").dumps("m2")) is None
    # Twice in a row (the signer and its derived keys are kept): the same answers.
    assert read_token(fast, older + "x") is None
    assert read_token(fast, older) == "m2"
