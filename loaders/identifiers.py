"""Identifier normalisation and keyed hashing (HMAC-SHA256), so raw values never leave the loader.

Two businesses sharing a phone, device, address, bank account or owner may be under common
control; to link them without storing the value, each value is normalised (so trivial spelling
differences still match) and hashed under one persistent secret key. The hashed message is
``"<id_type>\\x1f<normalised value>"``: equal values of different types do not collide.

Normalisation (vectorised over a pandas Series; blanks become missing). Every type is first
Unicode NFKC-normalised (full-width ``０２０`` is ``020``), then:

- ``phone``: E.164: an extension (``ext 12``, ``x12``, ``#12``) is dropped, digits of any
  script become ASCII, then digits only with a leading ``+``. ``00…`` becomes ``+…``. A number
  with one leading ``0`` (a national trunk prefix) becomes ``+<country code><rest>`` only when
  a ``default_country_code`` is given; otherwise it is kept as national digits. Any other
  digit string is taken to already start with a country code and gets a ``+``.
- ``address``: case-folded, runs of whitespace folded to one space, stripped.
- ``bank_account``: stripped, case-folded, spaces and hyphens removed (IBANs are printed in
  groups).
- ``device_id``, ``owner_id``: stripped and case-folded.

Extra columns whose names look like personal data (``loaders.contract.looks_personal``) are
hashed by :func:`hash_personal_column` the same way (NFKC, stripped, case-folded), under the
column's name instead of an identifier type.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import unicodedata
from functools import cache
from typing import Final

import numpy as np
import pandas as pd

from loaders.columns import IDENTIFIER_TYPES

_SEPARATOR: Final = "\x1f"
_FINGERPRINT_LABEL: Final = b"tradegraph identifier-key fingerprint v1"


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible id of the key (16 hex chars): stored beside hashed data so a
    load under a different key can be refused instead of silently breaking links."""
    return hmac.new(key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


#: Matches a character outside ASCII.
NON_ASCII: Final = r"[^\x00-\x7f]"
_PHONE_EXTENSION: Final = r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d+\s*$"


def _text(values: pd.Series) -> pd.Series:
    """Values as NFKC-normalised, stripped str; missing stays missing."""
    return nfkc(values.astype("str")).str.strip()


def nfkc(values: pd.Series) -> pd.Series:
    """``values.str.normalize("NFKC")`` (str dtype), computed only where a value is not plain
    ASCII: ASCII is NFKC-stable, and NFKC costs about 1.4 µs a value."""
    wide = values.str.contains(NON_ASCII, regex=True, na=False)
    if not wide.any():
        return values
    out = values.copy()
    out[wide] = values[wide].str.normalize("NFKC")
    return out


@cache
def _ascii_digits() -> dict[int, int]:
    """Translation table from every Unicode decimal digit (Arabic-Indic, Devanagari, ...) to
    its ASCII digit, so a phone written in any script hashes like its ASCII spelling."""
    table: dict[int, int] = {}
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if unicodedata.category(char) == "Nd" and not char.isascii():
            table[point] = ord("0") + unicodedata.digit(char)
    return table


def _normalise_phone(values: pd.Series, default_country_code: str | None) -> pd.Series:
    text = _text(values).str.replace(_PHONE_EXTENSION, "", regex=True)
    if text.str.contains(NON_ASCII, regex=True, na=False).any():
        text = text.str.translate(_ascii_digits())
    digits = text.str.replace(r"[^0-9]", "", regex=True)
    plus = text.str.startswith("+")
    double_zero = ~plus & digits.str.startswith("00")
    national = ~plus & ~double_zero & digits.str.startswith("0")
    out = "+" + digits
    out = out.where(~double_zero, "+" + digits.str.slice(2))
    if default_country_code:
        country = default_country_code.lstrip("+")
        out = out.where(~national, "+" + country + digits.str.slice(1))
    else:
        out = out.where(~national, digits)
    return out.where(digits.str.len() > 0)


def normalise_identifiers(
    values: pd.Series, id_type: str, *, default_country_code: str | None = None
) -> pd.Series:
    """Normalised values (str dtype, same index); blank or value-less entries become missing."""
    if id_type not in IDENTIFIER_TYPES:
        raise ValueError(f"unknown identifier type {id_type!r}; expected one of {IDENTIFIER_TYPES}")
    if id_type == "phone":
        out = _normalise_phone(values, default_country_code)
    elif id_type == "address":
        out = (_text(values).str.casefold().str.replace(r"\s+", " ", regex=True)).str.strip()
    elif id_type == "bank_account":
        out = _text(values).str.casefold().str.replace(r"[\s\-]+", "", regex=True)
    else:
        out = _text(values).str.casefold()
    return out.where(out.str.len() > 0)


def normalise_identifier(
    value: str, id_type: str, *, default_country_code: str | None = None
) -> str | None:
    """One value normalised exactly as :func:`normalise_identifiers` does; ``None`` if blank."""
    out = normalise_identifiers(
        pd.Series([value], dtype="str"), id_type, default_country_code=default_country_code
    ).iloc[0]
    return None if pd.isna(out) else str(out)


def hash_normalised(key: bytes, id_type: str, normalised: str) -> str:
    """HMAC-SHA256 (hex, 64 chars) of one already-normalised value."""
    message = f"{id_type}{_SEPARATOR}{normalised}".encode()
    return hmac.digest(key, message, "sha256").hex()


def hash_identifiers(
    values: pd.Series, id_type: str, key: bytes, *, default_country_code: str | None = None
) -> pd.Series:
    """Normalise then hash a column of raw identifiers; missing where the value is blank.

    Each distinct value is hashed once, so a shared warehouse address costs one HMAC.
    """
    normalised = normalise_identifiers(values, id_type, default_country_code=default_country_code)
    present = normalised.dropna()
    codes, uniques = pd.factorize(present)
    hashed = np.array([hash_normalised(key, id_type, value) for value in uniques], dtype=object)
    out = pd.Series(pd.NA, index=values.index, dtype="str")
    if len(present):
        out.loc[present.index] = hashed[codes]
    return out


def hash_personal_column(values: pd.Series, column: str, key: bytes) -> pd.Series:
    """Hash an extra column whose name looks like personal data (``Phone``, ``email``): NFKC,
    stripped and case-folded, then HMAC-SHA256 under the column's name; blanks stay blank."""
    normalised = _text(values).str.casefold()
    normalised = normalised.where(normalised.str.len() > 0)
    present = normalised.dropna()
    codes, uniques = pd.factorize(present)
    label = f"extra:{column}"
    hashed = np.array([hash_normalised(key, label, value) for value in uniques], dtype=object)
    out = pd.Series("", index=values.index, dtype="str")
    if len(present):
        out.loc[present.index] = hashed[codes]
    return out
