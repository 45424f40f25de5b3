"""``store://`` URIs: the one module that parses and writes them.

Grammar::

    uri     := "store://" prefix "/" project "/" key [ ":" tag ] [ "@" uid ]
    prefix  := "artifacts" | "datasets" | "models" | "plots" | "feature-sets" | "feature-vectors"
    project := [A-Za-z0-9][A-Za-z0-9_.-]{0,127}
    key     := [A-Za-z0-9][A-Za-z0-9_.-]{0,179}
    tag     := "latest" | "v" digits | [A-Za-z0-9][A-Za-z0-9_.-]{0,62}
    uid     := 8 to 32 lowercase hex digits (a unique prefix of the version's uid)

No tag means ``latest``; ``:v3`` names version 3; ``@uid`` pins one version::

    >>> parse_store_uri("store://datasets/churn/train:v2")
    StoreUri(prefix='datasets', project='churn', key='train', tag='v2', uid=None)
    >>> str(StoreUri("models", "churn", "clf", uid="0a1b2c3d"))
    'store://models/churn/clf@0a1b2c3d'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labbook.errors import InvalidNameError, PathEscapeError
from labbook.store.kinds import PREFIXES

SCHEME = "store://"
KEY_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,179}"
TAG_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
PROJECT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
UID_PATTERN = r"[0-9a-f]{8,32}"
_KEY = re.compile(rf"^{KEY_PATTERN}$")
_TAG = re.compile(rf"^{TAG_PATTERN}$")
_VERSION_TAG = re.compile(r"^v([0-9]{1,9})$")
_URI = re.compile(
    rf"^store://(?P<prefix>[a-z-]+)/(?P<project>{PROJECT_PATTERN})/(?P<key>{KEY_PATTERN})"
    rf"(?::(?P<tag>{TAG_PATTERN}))?(?:@(?P<uid>{UID_PATTERN}))?$"
)
RESERVED_TAGS = ("latest",)


@dataclass(frozen=True)
class StoreUri:
    """A parsed ``store://`` URI. ``tag`` is None when absent (meaning ``latest``)."""

    prefix: str
    project: str
    key: str
    tag: str | None = None
    uid: str | None = None

    @property
    def version_number(self) -> int | None:
        """N for a ``:vN`` tag, else None."""
        match = _VERSION_TAG.match(self.tag or "")
        return int(match.group(1)) if match else None

    def __str__(self) -> str:
        text = f"{SCHEME}{self.prefix}/{self.project}/{self.key}"
        if self.tag is not None:
            text += f":{self.tag}"
        if self.uid is not None:
            text += f"@{self.uid}"
        return text


def is_store_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def parse_store_uri(uri: str) -> StoreUri:
    """Parse ``uri``; the error names the part that is wrong and shows the grammar."""
    if not isinstance(uri, str):
        raise InvalidNameError(f"A store URI must be a str, got {type(uri).__name__} ({uri!r}).")
    grammar = "store://<kind>/<project>/<key>[:tag][@uid]"
    if not uri.startswith(SCHEME):
        raise InvalidNameError(f"{uri!r} is not a store URI. Use the form {grammar}.")
    match = _URI.match(uri)
    if not match:
        rest = uri[len(SCHEME):]
        parts = rest.split("/")
        if ".." in parts or "." in parts or "\\" in rest or "\x00" in rest:
            raise PathEscapeError(f"The store URI {uri!r} contains a path step ('..', '.', '\\'). "
                                  f"Use the form {grammar}.")
        if parts and parts[0] not in PREFIXES:
            raise InvalidNameError(
                f"The store URI {uri!r} has kind {parts[0]!r}; use one of: {', '.join(PREFIXES)}."
            )
        raise InvalidNameError(
            f"The store URI {uri!r} is malformed. Use the form {grammar}: key and tag use letters, "
            "digits, '_', '.', '-' (starting with a letter or digit); uid is 8-32 hex digits."
        )
    prefix = match.group("prefix")
    if prefix not in PREFIXES:
        raise InvalidNameError(
            f"The store URI {uri!r} has kind {prefix!r}; use one of: {', '.join(PREFIXES)}."
        )
    return StoreUri(prefix, match.group("project"), match.group("key"), match.group("tag"),
                    match.group("uid"))


def check_key(key: object) -> str:
    """An artifact key: 1-255 letters, digits, '_', '.', '-', starting with a letter or digit."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidNameError(
            f"Artifact key {key!r} is not usable: use 1-180 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (no '/', ':', '@' or spaces)."
        )
    return key


def key_from_name(name: str) -> str:
    """A valid key from a free name: other characters become '-' (``"my file.csv"`` → ``my-file.csv``)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-._")[:180]
    if not text:
        raise InvalidNameError(f"Cannot make an artifact key from {name!r}; pass name= with letters or digits.")
    return text


def check_tag(tag: object, *, allow_reserved: bool = False) -> str:
    """A user tag; ``latest`` and ``vN`` are computed and cannot be set or removed."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise InvalidNameError(
            f"Tag {tag!r} is not usable: use 1-63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    if not allow_reserved and (tag in RESERVED_TAGS or _VERSION_TAG.match(tag)):
        raise InvalidNameError(
            f"Tag {tag!r} is reserved: 'latest' always names the newest version and 'vN' names "
            "version N. Choose another tag, such as 'prod' or 'best'."
        )
    return tag
