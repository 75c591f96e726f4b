"""What a validation run found: rows read, kept and rejected per table, by reason.

Holds counts and column/file names only, never a value from the data, so it is safe to print,
log and store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table


@dataclass
class TableReport:
    """Counts for one table; ``read = kept + rejected`` when the run is complete."""

    table: str
    file: str | None = None
    read: int = 0
    kept: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    extra_columns: list[str] = field(default_factory=list)
    #: Extra columns whose names look like personal data: carried hashed, never raw.
    hashed_columns: list[str] = field(default_factory=list)
    #: Kept rows counted for a closer look (``mixed_script_<id column>``), not rejected.
    flagged: Counter[str] = field(default_factory=Counter)

    def reconciles(self) -> bool:
        return self.read == self.kept + self.rejected

    def reset(self) -> None:
        self.read = self.kept = self.rejected = 0
        self.rejected_by_reason = Counter()
        self.flagged = Counter()

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "file": self.file,
            "read": self.read,
            "kept": self.kept,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "extra_columns": list(self.extra_columns),
            "hashed_columns": list(self.hashed_columns),
            "flagged": dict(sorted(self.flagged.items())),
        }


@dataclass
class ValidationReport:
    """One run over an export: a :class:`TableReport` per table present, plus the files that
    were ignored and the fingerprint of the hashing key used."""

    export_dir: str
    key_fingerprint: str
    base_currency: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    ignored_files: list[str] = field(default_factory=list)
    rejects_dir: str | None = None

    @property
    def rejected(self) -> int:
        return sum(table.rejected for table in self.tables.values())

    def reconciles(self) -> bool:
        return all(table.reconciles() for table in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "export_dir": self.export_dir,
            "key_fingerprint": self.key_fingerprint,
            "base_currency": self.base_currency,
            "reconciles": self.reconciles(),
            "tables": {name: table.as_dict() for name, table in self.tables.items()},
            "ignored_files": list(self.ignored_files),
            "rejects_dir": self.rejects_dir,
        }

    def to_rich_table(self) -> Table:
        """Counts per table, then one row per (table, reason)."""
        table = Table(title=f"Validation of {self.export_dir}", show_lines=False)
        for column in ("table", "file", "read", "kept", "rejected", "reconciles"):
            table.add_column(
                column, justify="right" if column in ("read", "kept", "rejected") else "left"
            )
        for report in self.tables.values():
            table.add_row(
                report.table,
                report.file or "-",
                f"{report.read:,}",
                f"{report.kept:,}",
                f"{report.rejected:,}",
                "yes" if report.reconciles() else "NO",
            )
            for reason, count in sorted(report.rejected_by_reason.items()):
                table.add_row("", f"  {reason}", "", "", f"{count:,}", "")
            for flag, count in sorted(report.flagged.items()):
                table.add_row("", f"  flagged {flag}", "", f"{count:,}", "", "")
        return table

    def render(self) -> str:
        """Plain-text report (for logs and non-terminal output)."""
        lines = [f"Validation of {self.export_dir} (key {self.key_fingerprint})"]
        for report in self.tables.values():
            lines.append(
                f"  {report.table:<13} read {report.read:>12,}  kept {report.kept:>12,}  "
                f"rejected {report.rejected:>10,}  {'ok' if report.reconciles() else 'MISMATCH'}"
            )
            for reason, count in sorted(report.rejected_by_reason.items()):
                lines.append(f"      {reason:<28} {count:>10,}")
            for flag, count in sorted(report.flagged.items()):
                lines.append(f"      flagged {flag:<20} {count:>10,} (kept)")
            if report.extra_columns:
                lines.append(f"      extra columns carried: {', '.join(report.extra_columns)}")
            if report.hashed_columns:
                lines.append(
                    "      extra columns hashed as personal data: "
                    + ", ".join(report.hashed_columns)
                )
        if self.ignored_files:
            lines.append(f"  ignored files: {', '.join(self.ignored_files)}")
        if self.rejects_dir:
            lines.append(f"  rejects written to {self.rejects_dir}")
        return "\n".join(lines)
