"""store:// URIs: the grammar round-trips, and malformed or escaping URIs are refused clearly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labbook.errors import InvalidNameError, InvalidValueError, PathEscapeError
from labbook.store.kinds import POLYAXON_KINDS, ArtifactKind, kind_value, prefix_for
from labbook.store.uri import (
    PREFIXES,
    StoreUri,
    check_key,
    check_tag,
    key_from_name,
    parse_store_uri,
)

_start = st.sampled_from("abcXYZ019")
_body = st.text(alphabet="abcxyzABC0189_.-", max_size=20)
keys = st.builds(lambda a, b: a + b, _start, _body)
projects = keys
tags = st.one_of(st.none(), st.builds(lambda a, b: a + b, _start, st.text(alphabet="abz09_.-", max_size=10)))
uids = st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=8, max_size=32))


@given(st.sampled_from(PREFIXES), projects, keys, tags, uids)
def test_format_then_parse_round_trips(prefix, project, key, tag, uid):
    uri = StoreUri(prefix, project, key, tag, uid)
    text = str(uri)
    assert parse_store_uri(text) == uri
    assert str(parse_store_uri(text)) == text


@given(st.text(max_size=60))
def test_parser_never_crashes_and_accepts_only_what_it_can_write_back(text):
    try:
        parsed = parse_store_uri("store://" + text)
    except (InvalidNameError, PathEscapeError):
        return
    assert str(parsed) == "store://" + text


@pytest.mark.parametrize("uri, expected", [
    pytest.param("store://datasets/churn/train", StoreUri("datasets", "churn", "train"), id="latest"),
    pytest.param("store://models/p/clf:v3", StoreUri("models", "p", "clf", "v3"), id="version"),
    pytest.param("store://artifacts/p/a.b-c_d:prod@0123abcd", StoreUri("artifacts", "p", "a.b-c_d", "prod", "0123abcd"),
                 id="tag-and-uid"),
    pytest.param("store://feature-vectors/p/fv@" + "f" * 32, StoreUri("feature-vectors", "p", "fv", None, "f" * 32),
                 id="uid"),
])
def test_examples(uri, expected):
    assert parse_store_uri(uri) == expected


def test_version_tags_name_numbers():
    assert parse_store_uri("store://models/p/m:v12").version_number == 12
    assert parse_store_uri("store://models/p/m:prod").version_number is None
    assert parse_store_uri("store://models/p/m").version_number is None


@pytest.mark.parametrize("uri, error, words", [
    pytest.param("s3://bucket/key", InvalidNameError, "not a store URI", id="other-scheme"),
    pytest.param("store://things/p/k", InvalidNameError, "kind 'things'", id="unknown-kind"),
    pytest.param("store://datasets/p/../k", PathEscapeError, "path step", id="dotdot-key"),
    pytest.param("store://datasets/../p/k", PathEscapeError, "path step", id="dotdot-project"),
    pytest.param("store://datasets/p/a/b", InvalidNameError, "malformed", id="slash-in-key"),
    pytest.param("store://datasets/p/k:", InvalidNameError, "malformed", id="empty-tag"),
    pytest.param("store://datasets/p/k@xyz", InvalidNameError, "malformed", id="bad-uid"),
    pytest.param("store://datasets/p/.hidden", InvalidNameError, "malformed", id="leading-dot"),
])
def test_bad_uris_are_refused_with_the_grammar(uri, error, words):
    with pytest.raises(error) as caught:
        parse_store_uri(uri)
    assert words in str(caught.value) and uri in str(caught.value)


@pytest.mark.parametrize("key", ["../x", "a/b", "", ".x", "a b", "k:v", "k@1", "x" * 181])
def test_keys_that_could_escape_or_break_uris_are_refused(key):
    with pytest.raises(InvalidNameError, match="Artifact key"):
        check_key(key)


def test_reserved_tags_are_refused():
    for tag in ("latest", "v1", "v42"):
        with pytest.raises(InvalidNameError, match="reserved"):
            check_tag(tag)
    assert check_tag("prod") == "prod"
    with pytest.raises(InvalidNameError):
        check_tag("../prod")


def test_key_from_name_makes_valid_keys():
    assert key_from_name("my file.csv") == "my-file.csv"
    assert key_from_name("../../etc/passwd") == "etc-passwd"
    with pytest.raises(InvalidNameError):
        key_from_name("///")


def test_kinds_cover_polyaxon_and_catalogue_kinds():
    assert len(POLYAXON_KINDS) == 32
    assert {"dataset", "plot", "feature-set", "feature-vector"} <= {k.value for k in ArtifactKind}
    assert f"{ArtifactKind.CSV}" == "csv" and str(ArtifactKind.DOCKER_IMAGE) == "docker_image"
    assert kind_value(ArtifactKind.MODEL) == "model" and kind_value("CSV") == "csv"
    assert prefix_for("model") == "models" and prefix_for("csv") == "artifacts"
    with pytest.raises(InvalidValueError, match="Unknown artifact kind 'pickle'"):
        kind_value("pickle")
