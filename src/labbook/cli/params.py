"""Click parameter types for values the CLI parses: a bad value is a usage error (exit code 2)."""

from __future__ import annotations

from datetime import datetime, timezone

import click


class IsoTime(click.ParamType):
    """An ISO 8601 date or time (``2024-05-01``, ``2024-05-01T12:00``, ``...Z``, ``...+02:00``);
    one without a zone is UTC."""

    name = "ISO time"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time. Use e.g. 2024-05-01 or "
                      "2024-05-01T12:00:00+00:00.", param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


ISO_TIME = IsoTime()
