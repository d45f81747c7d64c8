"""urls.check_url: the one validator of outbound targets, and the pattern the OpenAPI document publishes."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veggiecron.errors import Invalid
from veggiecron.jobtypes.http.urls import TARGET_URL_PATTERN, check_url

URI = jsonschema_rs.validator_for({"type": "string", "format": "uri"}, validate_formats=True)

GOOD = [
    "http://127.0.0.1:9/",
    "https://service.example/hook?a=1&b=%20#frag",
    "http://[::1]:8080/x",
    "HTTP://Example.ORG",
    "http://user:pass@host.example:65535/p",
    "http://a_b.internal/",
    "https://xn--bcher-kva.example/",
]
BAD = [
    ("https://\U000c0d2e\x0f\u00a9h", "not a URL: control and private-use characters"),
    ("https://\U000c0d2e", "a host IDNA cannot encode"),
    ("http://bücher.example/", "Unicode host: its xn-- form is asked for"),
    ("http://host.example:0/", "port 0"),
    ("http://host.example:65536/", "port out of range"),
    ("http://host.example:/", "empty port"),
    ("ftp://host.example/", "another scheme"),
    ("http:///path", "no host"),
    ("http://a b/", "a space"),
    ("http://host.example/a b", "a space in the path"),
    ("http://host.example/%zz", "a bad percent escape"),
    ("http://[1:2]/", "a bracketed host that is not IPv6"),
    ("http://xn--a.com/", "an xn-- label IDNA cannot decode"),
    ("http://" + "a" * 64 + ".example/", "a label longer than 63"),
    ("http://host.example/\n", "a line break"),
]


@pytest.mark.parametrize("url", GOOD)
def test_targets_that_can_be_delivered_are_accepted(url: str) -> None:
    assert check_url(url, "data.url").url == url
    assert URI.is_valid(url)


@pytest.mark.parametrize(("url", "why"), BAD, ids=[b[1] for b in BAD])
def test_targets_that_are_not_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(Invalid) as raised:
        check_url(url, "endpoint")
    assert raised.value.field == "endpoint"


def test_a_unicode_host_is_refused_with_its_idna_form_as_a_hint() -> None:
    with pytest.raises(Invalid) as raised:
        check_url("http://bücher.example/x", "data.url")
    assert "xn--bcher-kva.example" in raised.value.description


def test_stored_urls_are_read_leniently() -> None:
    """A job stored under older, looser rules keeps running: strict=False checks what sending needs."""
    assert check_url("http://host.example/a|b", "data.url", strict=False).host == "host.example"
    with pytest.raises(Invalid):
        check_url("http://host.example/a|b", "data.url")


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.from_regex(TARGET_URL_PATTERN, fullmatch=True).filter(lambda u: len(u) <= 2048))
def test_what_the_pattern_matches_is_a_uri_the_server_accepts(url: str) -> None:
    """The document says format: uri and this pattern; both hold for each URL the pattern matches,
    and the server accepts it, unless its bracketed host is not IPv6 (which format: uri refuses too)."""
    assert URI.is_valid(url) or re.search(r"//[^/]*\[", url), url
    try:
        check_url(url, "data.url")
    except Invalid as exc:
        assert "[" in url or "xn--" in url.lower(), (url, exc.description)
