"""The day and local times the board tests run at (the `clock` fixture of this folder's conftest sets them)."""

from __future__ import annotations

import datetime as dt

DAY = dt.date(2026, 11, 23)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm))
