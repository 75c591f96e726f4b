"""Extra columns whose names look like personal data (``Phone``, ``email``, ...) are hashed in
frames and rejects, never carried raw, and the report says which were hashed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adversarial.exports import KEY, businesses, transactions, write
from loaders.contract import looks_personal
from loaders.validate import ExportReader

RAW = {
    "Phone": "+44 20 7946 0999",
    "email": "jane.doe@rawmail.example",
    "E-Mail": "boss@rawmail.example",
    "Owner Name": "Jane Rawname",
    "IBAN": "GB33BUKB20201555555555",
}


def test_phone_and_email_extra_columns_never_reach_rejects_or_frames_raw(tmp_path: Path) -> None:
    biz = businesses()
    for column, value in RAW.items():
        biz[column] = [f"{value}{i}" for i in range(len(biz))]
    biz["tier"] = "gold"
    biz.loc[3, "region"] = ""  # rejected: written to rejects with its extra columns
    tx = transactions()
    tx["buyer_email"] = "buyer@rawmail.example"
    tx.loc[0, "amount"] = "0"
    export = write(tmp_path / "export", {"businesses": biz, "transactions": tx})
    rejects = tmp_path / "rejects"
    with ExportReader(export, KEY, rejects_dir=rejects) as reader:
        kept, _ = reader.businesses()
        orders = pd.concat(list(reader.iter_orders()), ignore_index=True)
    report = reader.report
    written = "\n".join(p.read_text() for p in rejects.iterdir())
    written += report.render() + kept.to_csv() + orders.to_csv()
    assert "rawmail" not in written.casefold() and "rawname" not in written.casefold()
    assert "7946" not in written and "BUKB" not in written
    assert report.tables["businesses"].hashed_columns == list(RAW)
    assert report.tables["transactions"].hashed_columns == ["buyer_email"]
    assert "hashed as personal data: Phone, email" in report.render()
    assert (kept["tier"] == "gold").all()  # other extra columns are carried as they are
    assert kept["email"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert kept["email"].nunique() == len(kept)  # hashed, not blanked: still tells rows apart


def test_column_names_that_look_personal() -> None:
    personal = ["Phone", "PHONE", "mobile_no", "email", "e-mail", "contactEmail", "address",
                "Street", "iban", "bank_account", "device_id", "owner_id", "tax_id", "name",
                "ownerName", "date_of_birth", "passport_no", "ip_address", "zipcode"]  # fmt: skip
    other = ["tier", "channel", "split", "notes", "segment", "score_band", "region_code"]
    assert [c for c in personal if not looks_personal(c)] == []
    assert [c for c in other if looks_personal(c)] == []
