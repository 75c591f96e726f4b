"""Per-column parsing and checks of one chunk, derived from the contract's column kinds.

Every check is vectorised pandas/numpy over a chunk; each row gets at most one reason, the
first failing check in the order of :func:`loaders.contract.column_reasons`. This is the one
definition of a valid value that ``validate`` and ``load`` share (both read through
:class:`loaders.validate.ExportReader`).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache
from typing import Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from loaders import contract as c
from loaders.identifiers import NON_ASCII, nfkc

TS_DTYPE: Final = "datetime64[us, UTC]"
#: A count above this cannot be held exactly as a float (and would overflow Int64 casts).
_COUNT_MAX: Final = 2.0**53
#: Scripts that one writing system mixes as a matter of course (Japanese, Korean, Chinese).
_HAN_FAMILY: Final = frozenset(
    {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC"}
)


class RowChecks:
    """Collects (reason, bad-mask) pairs in priority order and picks each row's first reason."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._codes = np.zeros(rows, dtype=np.int16)
        self._names: list[str] = [""]

    def add(self, reason: str, bad: np.ndarray | pd.Series) -> None:
        mask = np.asarray(bad, dtype=bool)
        self._names.append(reason)
        self._codes[(self._codes == 0) & mask] = len(self._names) - 1

    @property
    def ok(self) -> np.ndarray:
        return self._codes == 0

    def reasons(self) -> np.ndarray:
        return np.asarray(self._names, dtype=object)[self._codes]


def text(values: pd.Series | None, rows: int) -> pd.Series:
    """Stripped str values; missing and absent columns read as ``""``."""
    if values is None:
        return pd.Series([""] * rows, dtype="str")
    if not isinstance(values.dtype, pd.StringDtype):
        values = values.astype("str")
    return values.fillna("").str.strip()


def id_text(values: pd.Series | None, rows: int) -> pd.Series:
    """Ids as the contract compares them: NFKC-normalised and stripped, never case-folded
    (full-width ``Ｂ001`` is ``B001``; ``b001`` stays another id). ASCII is NFKC-stable, so
    only non-ASCII values are normalised (NFKC costs ~1.4 µs a value)."""
    return nfkc(text(values, rows)).str.strip()


@cache
def _control_pattern() -> re.Pattern[str]:
    """A character class of every control or format character (Unicode Cc, Cf): NUL, tab,
    newline, zero-width space, byte-order mark, bidirectional overrides, ..."""
    points = [p for p in range(sys.maxunicode + 1) if unicodedata.category(chr(p)) in ("Cc", "Cf")]
    ranges: list[str] = []
    start = prev = points[0]
    for point in [*points[1:], -1]:
        if point != prev + 1:
            last = "-" + re.escape(chr(prev)) if prev > start else ""
            ranges.append(re.escape(chr(start)) + last)
            start = point
        prev = point
    return re.compile("[" + "".join(ranges) + "]")


#: The same class for pyarrow-backed strings, whose regex engine (RE2) knows Unicode categories.
_CONTROL_RE2: Final = r"[\p{Cc}\p{Cf}]"


def has_control(ids: pd.Series) -> np.ndarray:
    """Rows whose id holds a control or format character."""
    if getattr(ids.dtype, "storage", None) == "pyarrow":
        found = ids.str.contains(_CONTROL_RE2, regex=True, na=False)
    else:
        found = ids.str.contains(_control_pattern(), na=False)
    return found.to_numpy(dtype=bool)


@cache
def _script(char: str) -> str | None:
    """The script of a letter, from its Unicode name (``LATIN``, ``CYRILLIC``, ``GREEK``);
    ``None`` for digits, punctuation and symbols (common to every script)."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    word = name.split(" ", 1)[0] if name else "UNKNOWN"
    return "CJK" if word in _HAN_FAMILY else word


def _mixes_scripts(value: str) -> bool:
    scripts = {script for char in value if (script := _script(char)) is not None}
    return len(scripts) > 1


def mixed_script(ids: pd.Series) -> np.ndarray:
    """Rows whose id mixes letters of more than one script (``B`` Latin with ``В`` Cyrillic):
    such ids are kept (a real id may do so) but counted in the report, as they are the usual
    way to make a look-alike of another business's id. Only non-ASCII ids are examined."""
    out = np.zeros(len(ids), dtype=bool)
    candidates = ids.str.contains(NON_ASCII, regex=True, na=False).to_numpy(dtype=bool)
    if candidates.any():
        out[candidates] = [_mixes_scripts(value) for value in ids[candidates]]
    return out


def parse_timestamp(values: pd.Series | None, raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(UTC timestamps, out-of-range mask): values outside the contract's 1970–2100 window are
    NaT in the first and flagged in the second, whatever the source resolution or format."""
    if values is not None and ptypes.is_datetime64_any_dtype(values.dtype):
        stamps = values if values.dt.tz is not None else values.dt.tz_localize("UTC")
        stamps = stamps.dt.tz_convert("UTC")
    elif values is not None and values.dtype == object:  # Parquet dates: datetime.date objects
        stamps = pd.to_datetime(values, utc=True, errors="coerce")
    else:
        stamps = pd.to_datetime(raw.where(raw != ""), utc=True, errors="coerce", format="ISO8601")
    outside = (stamps.notna() & ((stamps < c.TIME_MIN) | (stamps > c.TIME_MAX))).to_numpy()
    stamps = stamps.where(~outside)
    return stamps.astype(TS_DTYPE), outside


def parse_number(values: pd.Series | None, raw: pd.Series) -> np.ndarray:
    if values is not None and ptypes.is_numeric_dtype(values.dtype):
        return values.astype("float64").to_numpy(na_value=np.nan)
    source = values if values is not None and values.dtype == object else raw
    numbers = pd.to_numeric(source, errors="coerce")
    return np.asarray(numbers, dtype="float64")


def check_columns(
    frame: pd.DataFrame,
    spec: c.TableSpec,
    checks: RowChecks,
    base_currency: str,
    flags: dict[str, np.ndarray] | None = None,
) -> dict[str, pd.Series]:
    """Parse each contract column and add its checks; returns the parsed columns. Ids that mix
    scripts are put in ``flags`` (``mixed_script_<col>``) instead of being rejected."""
    rows = len(frame)
    parsed: dict[str, pd.Series] = {}
    for column in spec.columns:
        values = frame[column.name] if column.name in frame.columns else None
        if column.kind == "id":
            ids = id_text(values, rows)
            _check_id(column.name, ids, checks)
            if flags is not None:
                flags[f"{c.MIXED_SCRIPT}_{column.name}"] = mixed_script(ids)
            parsed[column.name] = ids
        elif column.kind in ("timestamp", "date"):
            parsed[column.name] = _check_time(column, values, text(values, rows), checks)
        elif column.kind in ("amount", "number", "count", "label"):
            parsed[column.name] = _check_number(column, values, text(values, rows), checks)
            parsed[column.name].index = frame.index
        else:
            parsed[column.name] = _check_text(column, text(values, rows), checks, base_currency)
    return parsed


def _check_id(name: str, ids: pd.Series, checks: RowChecks) -> None:
    checks.add(f"empty_{name}", (ids == "").to_numpy())
    checks.add(f"control_char_{name}", has_control(ids))
    checks.add(f"too_long_{name}", (ids.str.len() > c.ID_MAX_LENGTH).to_numpy())


def _check_text(
    column: c.ColumnSpec, raw: pd.Series, checks: RowChecks, base_currency: str
) -> pd.Series:
    """``text``, ``choice``, ``currency`` and ``identifier`` columns (identifiers are checked
    for length only here; they are hashed by the caller)."""
    name, blank = column.name, (raw == "").to_numpy()
    too_long = (raw.str.len() > c.TEXT_MAX_LENGTH).to_numpy()
    if column.kind == "choice":
        lowered = raw.str.lower()
        if column.default is not None:
            lowered = lowered.where(~blank, column.default)
        else:
            checks.add(f"empty_{name}", blank)
        checks.add(f"unknown_{name}", ~lowered.isin(column.choices).to_numpy())
        return lowered
    if column.required:
        checks.add(f"empty_{name}", blank)
    checks.add(f"too_long_{name}", too_long)
    if column.kind == "currency":
        upper = raw.str.upper()
        return upper if column.required else upper.where(~blank, base_currency)
    return raw.where(~blank)


def _check_time(
    column: c.ColumnSpec, values: pd.Series | None, raw: pd.Series, checks: RowChecks
) -> pd.Series:
    name, blank = column.name, (raw == "").to_numpy()
    if values is not None and not isinstance(values.dtype, pd.StringDtype):
        blank = values.isna().to_numpy() | blank
    stamps, outside = parse_timestamp(values, raw)
    if column.kind == "date":
        stamps = stamps.dt.floor("D")
    if column.required:
        checks.add(f"empty_{name}", blank)
    checks.add(f"bad_{name}", ~blank & ~outside & stamps.isna().to_numpy())
    checks.add(f"out_of_range_{name}", ~blank & outside)
    return stamps


def _check_number(
    column: c.ColumnSpec, values: pd.Series | None, raw: pd.Series, checks: RowChecks
) -> pd.Series:
    name, blank = column.name, (raw == "").to_numpy()
    numbers = parse_number(values, raw)
    if values is not None and ptypes.is_numeric_dtype(values.dtype):
        blank = values.isna().to_numpy()
    bad = ~blank & ~np.isfinite(numbers)
    if column.kind == "amount":
        checks.add(f"empty_{name}", blank)
        checks.add(f"bad_{name}", bad)
        checks.add(f"not_positive_{name}", ~blank & ~bad & (numbers <= 0))
        if column.maximum is not None:
            checks.add(f"too_large_{name}", ~blank & ~bad & (numbers > column.maximum))
    elif column.kind == "label":
        checks.add(f"bad_{name}", bad | (~blank & ~np.isin(numbers, (0.0, 1.0))))
    else:
        if column.kind == "count":
            whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
            bad |= ~blank & (~whole | (np.abs(numbers) > _COUNT_MAX))
        checks.add(f"bad_{name}", bad)
        checks.add(f"negative_{name}", ~blank & ~bad & (numbers < 0))
    return pd.Series(numbers)
