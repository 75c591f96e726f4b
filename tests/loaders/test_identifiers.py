"""Identifier normalisation and keyed hashing."""

from __future__ import annotations

import pandas as pd
import pytest

from loaders.identifiers import (
    hash_identifiers,
    hash_normalised,
    key_fingerprint,
    normalise_identifier,
)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+1 (555) 010-0001", None, "+15550100001"),
        ("0044 20 7946 0000", None, "+442079460000"),
        ("1-555-010-0001", None, "+15550100001"),
        ("020 7946 0000", None, "02079460000"),  # national, no country configured: kept
        ("020 7946 0000", "44", "+442079460000"),
        ("020 7946 0000", "+44", "+442079460000"),
        ("  ", None, None),
        ("n/a", None, None),
    ],
)
def test_phone_normalisation(raw: str, country: str | None, expected: str | None) -> None:
    assert normalise_identifier(raw, "phone", default_country_code=country) == expected


@pytest.mark.parametrize(
    ("id_type", "a", "b"),
    [
        ("address", "9 Shared  Warehouse Road,\tFaketown ", "9 shared warehouse road, FAKETOWN"),
        ("address", "Ｕnit 1", "unit 1"),  # full-width letter folded by NFKC
        ("bank_account", "GB33 BUKB 2020 1555 5555 55", "gb33bukb20201555555555"),
        ("device_id", " ABC-123 ", "abc-123"),
        ("owner_id", "Owner-7", "owner-7"),
    ],
)
def test_equivalent_spellings_normalise_alike(id_type: str, a: str, b: str) -> None:
    assert normalise_identifier(a, id_type) == normalise_identifier(b, id_type)


def test_unknown_identifier_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown identifier type"):
        normalise_identifier("x", "email")


def test_hash_depends_on_key_type_and_value_only() -> None:
    values = pd.Series(["+1 555 0100", "+15550100", "", None, "+1 555 0199"], dtype="str")
    hashed = hash_identifiers(values, "phone", b"key-a")
    assert hashed[0] == hashed[1] == hash_normalised(b"key-a", "phone", "+15550100")
    assert hashed[0] != hashed[4]
    assert pd.isna(hashed[2]) and pd.isna(hashed[3])
    assert len(hashed[0]) == 64 and int(hashed[0], 16) >= 0
    assert hash_identifiers(values, "phone", b"key-b")[0] != hashed[0]
    assert hash_normalised(b"key-a", "device_id", "+15550100") != hashed[0]
    assert list(hashed.index) == list(values.index)


def test_key_fingerprint_is_short_stable_and_key_specific() -> None:
    assert key_fingerprint(b"k1") == key_fingerprint(b"k1")
    assert key_fingerprint(b"k1") != key_fingerprint(b"k2")
    assert len(key_fingerprint(b"k1")) == 16
    assert "k1" not in key_fingerprint(b"k1")
