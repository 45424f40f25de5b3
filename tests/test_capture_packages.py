"""The environment capture's package list: read from METADATA headers, equal to importlib's parse."""

from __future__ import annotations

from importlib import metadata

from labbook.capture import env


def test_the_package_list_equals_the_full_metadata_parse():
    expected: dict[str, str] = {}
    for dist in metadata.distributions():
        meta = dist.metadata
        if meta["Name"]:
            expected.setdefault(meta["Name"], meta["Version"])
    listed = env._list_packages()
    assert listed == dict(sorted(expected.items(), key=lambda item: item[0].lower()))
    assert listed["pytest"] == metadata.version("pytest")


def test_only_the_header_is_read():
    text = "Metadata-Version: 2.1\nName: real-name\nVersion: 1.2.3\nSummary: x\n\nName: not-this\nVersion: 9\n"
    assert env._header(text) == ("real-name", "1.2.3")
    assert env._header("Metadata-Version: 2.1\nVersion: 1\n") == (None, "1")
    assert env._header("") == (None, "")
