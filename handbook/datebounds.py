"""Bounds of a date item (`min`/`max` in a form's YAML): a fixed day `2026-01-01`, `today`, or an offset from
the day the form is filled, `-2y`, `+1y`, `-6m`, `+30d`. The form server resolves them against its own clock,
so a date item keeps a sane window (an absurd 0001-01-01 or 9999-12-31 never becomes a record's date)."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_OFFSET = re.compile(r"([+-])(\d{1,4})([dmy])")
EXAMPLES = "2026-01-01、today、-2y、+1y、-6m、+30d"


def valid_bound(text: str) -> bool:
    return resolve(text, dt.date(2000, 1, 1)) is not None


def resolve(text: str, today: dt.date) -> dt.date | None:
    """The day `text` names when the form is filled on `today`; None when it is not a bound."""
    if text == "today":
        return today
    offset = _OFFSET.fullmatch(text)
    if offset is None:
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            return None
    sign, amount, unit = offset.groups()
    n = int(amount) * (-1 if sign == "-" else 1)
    if unit == "d":
        return _clamped(today.toordinal() + n)
    months = today.year * 12 + today.month - 1 + (n if unit == "m" else 12 * n)
    year, month = divmod(months, 12)
    if not 1 <= year <= 9999:
        return dt.date.min if n < 0 else dt.date.max
    month += 1
    return dt.date(year, month, min(today.day, calendar.monthrange(year, month)[1]))  # 31 March - 1m: 28/29 Feb


def _clamped(ordinal: int) -> dt.date:
    return dt.date.fromordinal(min(max(ordinal, 1), dt.date.max.toordinal()))
