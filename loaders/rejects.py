"""Rejects files, written to a private temporary folder and moved into place only at the end.

One CSV per table that had rejects (``<table>.rejects.csv``: ``line, reason`` then the source
columns, identifier columns already hashed, cells a spreadsheet would run as formulas escaped
by :mod:`loaders.safe_csv`) plus ``report.json``. A run that stops on a
structural error discards the temporary folder, so it leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from loaders.safe_csv import write_csv


class RejectsWriter:
    """Appends rejected rows per table; ``commit`` publishes them, ``discard`` drops them.
    With ``rejects_dir=None`` rows are only counted by the caller, nothing is written."""

    def __init__(self, rejects_dir: Path | None) -> None:
        self.rejects_dir = rejects_dir
        self._tmp: Path | None = None
        self._started: set[str] = set()
        self._finalizer: weakref.finalize[..., RejectsWriter] | None = None

    def _tmp_dir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="tradegraph-rejects-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def file_name(self, table: str) -> str:
        return f"{table}.rejects.csv"

    def write(self, table: str, rows: pd.DataFrame) -> None:
        """Append rows (columns ``line, reason, <source columns>``, values already safe)."""
        if self.rejects_dir is None or rows.empty:
            return
        path = self._tmp_dir() / self.file_name(table)
        first = table not in self._started
        write_csv(rows, path, mode="w" if first else "a", header=first, index=False)
        self._started.add(table)

    def reset(self, table: str) -> None:
        """Forget a table's rejects (its file is read again from the start)."""
        if table in self._started and self._tmp is not None:
            (self._tmp / self.file_name(table)).unlink(missing_ok=True)
            self._started.discard(table)

    def commit(self, report: dict[str, Any]) -> None:
        """Move the rejects files and ``report.json`` into ``rejects_dir`` (replacing older
        ones of the same names)."""
        if self.rejects_dir is None:
            return
        tmp = self._tmp_dir()
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        self.rejects_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.rejects_dir.glob("*.rejects.csv"):
            stale.unlink()
        for path in tmp.iterdir():
            shutil.move(str(path), self.rejects_dir / path.name)
        self.discard()

    def discard(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._tmp = None
        self._started.clear()
