"""How a deployment reads its exports: one object instead of the same keywords threaded
through the reader, the validator and the loader."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportOptions:
    """``base_currency``: the ISO 4217 code amounts are converted to (an order without a
    currency is in it); ``phone_country_code`` (e.g. ``"44"``) turns national phone numbers
    with a trunk ``0`` into international ones before hashing, so both spellings match."""

    base_currency: str = "USD"
    phone_country_code: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_currency", self.base_currency.strip().upper())
