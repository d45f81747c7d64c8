"""The http type's secret header values, without a server: sealed as stored, kept by "set",
opened when parsed, shown as "set", resealed and left out of an import."""

from __future__ import annotations

from typing import Any

import pytest

from veggiecron.config import HttpClientSection
from veggiecron.errors import Invalid
from veggiecron.jobtypes.http.secrets import map_secrets, seal_headers, sealed_of, stored, without_unknown
from veggiecron.jobtypes.http.target import parse_http_data
from veggiecron.sealed import SecretBox, WrongSecretsKey

BOX = SecretBox("a-key-for-the-unit-tests-0123456789")
URL = "http://127.0.0.1:9/x"


def test_a_secret_is_sealed_kept_by_set_and_opened_when_parsed() -> None:
    request: dict[str, Any] = {"url": URL, "headers": {"A": {"secret": "v"}, "B": "plain"}}
    first = seal_headers(request, None, BOX)
    sealed = sealed_of(first["headers"]["A"])
    assert sealed is not None and sealed.startswith("v1:") and BOX.open(sealed) == "v"
    assert first["headers"]["B"] == "plain" and request["headers"]["A"] == {"secret": "v"}  # the request untouched
    kept = seal_headers({"url": URL, "headers": {"A": {"secret": "set"}}}, first, BOX)
    assert kept["headers"]["A"] == first["headers"]["A"]  # the same sealed text: the data is unchanged
    target = parse_http_data(first, HttpClientSection(), box=BOX)
    assert dict(target.headers) == {"A": "v", "B": "plain"}
    with pytest.raises(WrongSecretsKey):
        parse_http_data(first, HttpClientSection(), box=SecretBox("another-key-0123456789abcdef"))
    with pytest.raises(Invalid, match="no request may send"):
        parse_http_data(first, HttpClientSection())  # no box: a request's data, which may not hold one


@pytest.mark.parametrize(
    "value",
    [{"secret": "set"}, {"secret": None}, {"secret": {"sealed": "v1:x"}}, {"secret": "a\rb"}, {"secret": "x", "y": 1}],
)
def test_a_bad_secret_in_a_request_is_refused(value: object) -> None:
    with pytest.raises(Invalid) as caught:
        seal_headers({"url": URL, "headers": {"A": value}}, {"url": URL, "headers": {"A": "plain"}}, BOX)
    assert caught.value.field == "data.headers"


def test_secrets_are_mapped_shown_and_left_out() -> None:
    data = {"url": URL, "json": {"secret": "a body's own"}, "headers": {"A": stored(BOX.seal("v")), "B": "b"}}
    assert map_secrets(data, lambda sealed: {"secret": "set"}) == {
        **data,
        "headers": {"A": {"secret": "set"}, "B": "b"},
    }
    assert map_secrets({"url": URL}, lambda sealed: 1 / 0) == {"url": URL}  # nothing to map: the same data
    assert without_unknown({"url": URL, "headers": {"A": {"secret": None}, "B": "b"}}) == (
        {"url": URL, "headers": {"B": "b"}},
        ["A"],
    )
    assert without_unknown({"url": URL, "headers": {"A": {"secret": None}}}) == ({"url": URL}, ["A"])
