"""The version is written once, in pyproject.toml; the package reads it from its metadata."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tradegraph

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_package_version_is_pyprojects() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert tradegraph.__version__ == declared
