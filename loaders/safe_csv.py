"""CSV files for people: cells that a spreadsheet would run as a formula are escaped.

A rejects file or a scores file is opened in Excel or LibreOffice; a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula there
(``=HYPERLINK(...)``, ``@SUM(...)``), so a hostile id in an export could run in an analyst's
spreadsheet. Such cells get a leading ``'`` (the OWASP "CSV injection" advice); a plain number
such as ``-5`` or ``+1.5e3`` is not a formula and is left alone. A carriage return inside a
value becomes a line feed: Python's and pandas' CSV writers (line terminator ``\\n``) would not
quote a value holding a bare CR, and a reader would split the row there, starting a new line
with whatever follows (``\\r=1+1``). Every CSV tradegraph writes
for people goes through :func:`escape_frame` / :func:`escape_cell`; files written for machines
(exports, Neo4j import files) are not escaped, as ``'`` would change the data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pandas as pd
from pandas.api import types as ptypes

#: First characters a spreadsheet treats as the start of a formula.
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NEEDS_ESCAPE: Final = r"^[=+\-@\t\r]"


def escape_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    return _fold_carriage_returns(value)


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are escaped with :func:`escape_cell` (vectorised;
    numeric, boolean and datetime columns are left as they are)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not (ptypes.is_object_dtype(values.dtype) or ptypes.is_string_dtype(values.dtype)):
            continue
        text = values.astype("str").where(values.notna(), "")
        risky = text.str.contains(_NEEDS_ESCAPE, regex=True, na=False)
        risky &= ~text.str.fullmatch(_PLAIN_NUMBER.pattern, na=False)
        carriage = text.str.contains("\r", regex=False, na=False)
        if risky.any() or carriage.any():
            out[column] = values.astype("object")
            out.loc[risky, column] = "'" + text[risky]
            out.loc[carriage, column] = out.loc[carriage, column].map(_fold_carriage_returns)
    return out


def _fold_carriage_returns(value: str) -> str:
    """Carriage returns inside a value as line feeds (see module docstring)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def write_csv(frame: pd.DataFrame, path: Path, **to_csv: Any) -> None:
    """``frame.to_csv(path, **to_csv)`` with formula cells escaped (see module docstring)."""
    escape_frame(frame).to_csv(path, **to_csv)
