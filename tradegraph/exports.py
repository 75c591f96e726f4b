"""Files written for people to open: scores with their reasons as CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def write_scores_csv(scores: pd.DataFrame, out: Path) -> int:
    """Write ``business_id, pd, score, grade, reasons, reason_codes, reason_details`` (the
    lists as JSON) to ``out`` for people to open: cells a spreadsheet would run as formulas
    are escaped (loaders.safe_csv)."""
    from loaders.safe_csv import write_csv

    frame = scores[["business_id", "pd", "score", "grade"]].copy()
    for column in ("reasons", "reason_codes", "reason_details"):
        values = scores[column] if column in scores else [[]] * len(scores)
        frame[column] = [json.dumps(list(r)) for r in values]
    write_csv(frame, out, index=False)
    return len(frame)
