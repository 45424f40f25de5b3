"""The optional-dependency table lives at the ground level, in ``labbook._optional``; this
name stays for the media converters and integrations that import it from here."""

from labbook._optional import _EXTRAS, install_hint, need  # noqa: F401
