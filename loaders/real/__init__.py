"""Real-data adapters: public networks converted into the marketplace export contract.

Each adapter reads one dataset folder (as in ``../shared/data``) and writes
``businesses.csv``, ``transactions.csv`` and ``outcomes.csv`` (labels as ``fraud`` outcomes)
plus ``import-report.json``; it returns a ``ConversionReport`` whose ``reconciles()`` checks
source rows = written rows + dropped rows. The module docstrings state every choice made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loaders.real.bitcoin_otc import convert_bitcoin_otc
from loaders.real.common import ConversionReport, RealDataError
from loaders.real.ethereum_phishing import convert_ethereum_phishing

#: Dataset name (as the CLI takes it) -> converter.
CONVERTERS: dict[str, Callable[[Path, Path], ConversionReport]] = {
    "bitcoin-otc": convert_bitcoin_otc,
    "ethereum-phishing": convert_ethereum_phishing,
}

__all__ = [
    "CONVERTERS",
    "ConversionReport",
    "RealDataError",
    "convert_bitcoin_otc",
    "convert_ethereum_phishing",
]
