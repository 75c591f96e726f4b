"""Identifiers are normalised per type before hashing (contract v2): phones to E.164 whatever
digits or extension they are written with, addresses case- and space-folded."""

from __future__ import annotations

import pandas as pd

from loaders.identifiers import hash_identifiers

KEY = b"adversarial-test-key"


def _hashes(values: list[str], id_type: str, **options) -> list[str]:
    return hash_identifiers(pd.Series(values, dtype="str"), id_type, KEY, **options).tolist()


def test_phone_in_full_width_or_arabic_digits_hashes_like_ascii() -> None:
    spellings = [
        "+44 20 7946 0000",
        "+４４ ２０ ７９４６ ００００",  # full-width digits
        "+٤٤ ٢٠ ٧٩٤٦ ٠٠٠٠",  # Arabic-Indic digits
        "0044 (20) 7946-0000",
        "020 7946 0000",  # national, with the default country code
        "+44 20 7946 0000 ext. 123",  # an extension is not part of the E.164 number
        "+44 20 7946 0000 x9",
    ]
    assert len(set(_hashes(spellings, "phone", default_country_code="44"))) == 1


def test_address_case_width_and_space_variants_hash_alike() -> None:
    spellings = [
        "12 Main Street,  Faketown",
        "12 MAIN STREET, faketown",
        "１２ Main\tStreet, Faketown",
    ]
    assert len(set(_hashes(spellings, "address"))) == 1


def test_different_identifier_values_still_differ() -> None:
    assert len(set(_hashes(["+44 20 7946 0000", "+44 20 7946 0001"], "phone"))) == 2
    assert len(set(_hashes(["DEV-１", "DEV-2"], "device_id"))) == 2
