"""URL patterns: what compiles (104 vs 105), what matches, and properties against a slow reference matcher."""

from __future__ import annotations

import contextlib
import functools
import time
from urllib.parse import urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clarion.throttling.urlpattern import (
    MalformedPattern,
    PatternError,
    WildcardInHost,
    compile_pattern,
)

WEATHER = "https://api.example.org/data/2.5/*"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.org/data/2.5/weather", True),
        ("https://api.example.org/data/2.5/weather?q=London&appid=1", True),
        ("https://api.example.org/data/2.5/a/b/c", True),
        ("https://api.example.org/data/2.5/", True),
        ("https://API.Example.ORG/data/2.5/x", True),
        ("HTTPS://api.example.org/data/2.5/x", True),
        ("https://api.example.org:443/data/2.5/x", True),
        ("https://user:pw@api.example.org/data/2.5/x", True),
        ("https://api.example.org/data/2.5/x#top", True),
        ("https://api.example.org/data/2.5", False),
        ("https://api.example.org/DATA/2.5/x", False),
        ("https://api.example.org/data/2x5/x", False),
        ("http://api.example.org/data/2.5/x", False),
        ("https://api.example.org:8443/data/2.5/x", False),
        ("https://api.example.org.evil.test/data/2.5/x", False),
        ("https://evil.test/?https://api.example.org/data/2.5/x", False),
        ("https://xapi.example.org/data/2.5/x", False),
    ],
)
def test_weather_pattern(url: str, expected: bool) -> None:
    assert compile_pattern(WEATHER).matches(url) is expected


def test_default_ports_are_normalised() -> None:
    explicit = compile_pattern("http://h.test:80/x")
    assert explicit.port == 80
    assert explicit.matches("http://h.test/x")
    assert compile_pattern("http://h.test/x").matches("http://h.test:80/x")
    assert not compile_pattern("http://h.test:443/x").matches("http://h.test/x")
    assert compile_pattern("http://h.test:443/x").matches("http://h.test:443/x")


def test_wildcards_inside_the_path_cross_slashes() -> None:
    pattern = compile_pattern("https://api.example.com/v3/messages/*/send")
    assert pattern.matches("https://api.example.com/v3/messages/42/send")
    assert pattern.matches("https://api.example.com/v3/messages/a/b/send?x=1")
    assert not pattern.matches("https://api.example.com/v3/messages/42/sent")
    assert not pattern.matches("https://api.example.com/v3/messages/send")


def test_a_pattern_without_query_ignores_the_query_one_with_query_matches_it() -> None:
    assert compile_pattern("https://h.test/x").matches("https://h.test/x?a=1")
    keyed = compile_pattern("https://h.test/x?key=*&v=2")
    assert keyed.matches("https://h.test/x?key=abc&v=2")
    assert keyed.matches("https://h.test/x?key=a&b=c&v=2")
    assert not keyed.matches("https://h.test/x?key=abc&v=3")
    assert not keyed.matches("https://h.test/x")


def test_root_and_empty_path() -> None:
    root = compile_pattern("https://h.test")
    assert root.path == "/"
    assert root.matches("https://h.test")
    assert root.matches("https://h.test/")
    assert not root.matches("https://h.test/x")
    assert not root.matches("https://h.testx")
    anything = compile_pattern("https://h.test/*")
    assert anything.matches("https://h.test")
    assert anything.matches("https://h.test/a/b?c")
    assert not anything.matches("https://h.test.evil")


def test_ipv6_host() -> None:
    assert compile_pattern("http://[::1]:8080/x/*").matches("http://[::1]:8080/x/y")


@pytest.mark.parametrize(
    "text",
    [
        "https://*.example.org/x",
        "https://api.example*.org/x",
        "https://api.example.org:8*0/x",
        "https://api.example.org:*/x",
        "http*://api.example.org/x",
        "*://api.example.org/x",
        "https://api.example*.org:8*0/data/2.5/weather",
    ],
)
def test_wildcards_outside_the_path_are_105(text: str) -> None:
    with pytest.raises(WildcardInHost):
        compile_pattern(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "api.example.org/x",
        "ftp://api.example.org/x",
        "https://",
        "https:///x",
        "https://api.example.org:0/x",
        "https://api.example.org:65536/x",
        "https://api.example.org:8o/x",
        "https://user@api.example.org/x",
        "https://api.example.org/x#frag",
        "https://api.example.org/a b",
        "https://api.example.org/%zz",
        "https://api..example.org/x",
        "https://-api.example.org/x",
        "https://[::zz]/x",
        "https://[::1/x",
        "https://" + "a" * 2100,
    ],
)
def test_malformed_patterns_are_104(text: str) -> None:
    with pytest.raises(MalformedPattern):
        compile_pattern(text)


def test_many_wildcards_do_not_backtrack() -> None:
    pattern = compile_pattern("https://h.test/" + "*a" * 12 + "*b")
    started = time.perf_counter()
    assert not pattern.matches("https://h.test/" + "a" * 2000)
    assert pattern.matches("https://h.test/" + "a" * 2000 + "b")
    assert time.perf_counter() - started < 0.5


# Properties ----------------------------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
HOST = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
SEGMENT_TEXT = st.text(alphabet="abcXYZ019-._~!$&'()+,;=:@/%", max_size=8).map(
    lambda text: text.replace("%", "%25")
)
PATH_PIECES = st.lists(st.one_of(SEGMENT_TEXT, st.just("*")), max_size=6)
FILLER = st.text(alphabet="abc/XY-._~!$&'()+,;=:@", max_size=10)


@st.composite
def pattern_and_url(draw: st.DrawFn) -> tuple[str, str]:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(HOST)
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    pieces = draw(PATH_PIECES)
    authority = host if port is None else f"{host}:{port}"
    path = "/" + "".join(pieces)
    url_path = "/" + "".join(draw(FILLER) if piece == "*" else piece for piece in pieces)
    query = draw(st.one_of(st.just(""), FILLER.map(lambda text: "?" + text)))
    return f"{scheme}://{authority}{path}", f"{scheme}://{authority.upper()}{url_path}{query}"


@given(pattern_and_url())
def test_a_url_built_from_a_pattern_matches_it(case: tuple[str, str]) -> None:
    pattern, url = case
    assert compile_pattern(pattern).matches(url)


@given(pattern_and_url(), HOST)
def test_another_host_never_matches(case: tuple[str, str], other: str) -> None:
    pattern, url = case
    compiled = compile_pattern(pattern)
    assume(other != compiled.host)
    scheme, rest = url.split("://", 1)
    assert not compiled.matches(f"{scheme}://{other}{rest[len(compiled.host) :]}")


@given(pattern_and_url(), st.data())
def test_a_wildcard_in_scheme_host_or_port_is_always_105(case: tuple[str, str], data: st.DataObject) -> None:
    pattern, _ = case
    scheme_end = pattern.index("://")
    authority = (scheme_end + 3, pattern.index("/", scheme_end + 3))
    position = data.draw(st.one_of(st.integers(0, scheme_end), st.integers(*authority)))
    with pytest.raises(WildcardInHost):
        compile_pattern(pattern[:position] + "*" + pattern[position:])


@given(st.text(max_size=60))
def test_compile_raises_only_pattern_errors(text: str) -> None:
    with contextlib.suppress(PatternError):
        compile_pattern(text)


@settings(max_examples=300)
@given(pattern_and_url(), st.text(alphabet="abc/XY?=&#", max_size=12))
def test_matcher_agrees_with_a_slow_reference(case: tuple[str, str], noise: str) -> None:
    pattern, url = case
    for candidate in (url, url + noise, url[: len(url) // 2 + 8] + noise):
        assert compile_pattern(pattern).matches(candidate) is _reference(pattern, candidate)


def _reference(pattern: str, url: str) -> bool:
    """The documented rules, evaluated the slow way with ``urlsplit`` and a recursive glob."""
    expected, actual = urlsplit(pattern), urlsplit(url)
    try:
        actual_port = actual.port
    except ValueError:
        return False
    defaults = {"http": 80, "https": 443}
    if actual.scheme.lower() != expected.scheme.lower() or actual.hostname != expected.hostname:
        return False
    if (actual_port or defaults[actual.scheme.lower()]) != (expected.port or defaults[expected.scheme]):
        return False
    if not _glob(expected.path or "/", actual.path or "/"):
        return False
    return not expected.query or _glob(expected.query, actual.query)


def _glob(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters; memoised over (pattern, text) positions."""

    @functools.cache
    def match(p: int, t: int) -> bool:
        if p == len(pattern):
            return t == len(text)
        if pattern[p] == "*":
            return match(p + 1, t) or (t < len(text) and match(p, t + 1))
        return t < len(text) and text[t] == pattern[p] and match(p + 1, t + 1)

    return match(0, 0)
