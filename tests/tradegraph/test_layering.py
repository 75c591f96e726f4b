"""The packages are ours and keep their layering: graph never imports torch, gnn never neo4j."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["loaders", "graph", "gnn", "tradegraph"])
def test_imported_package_is_this_projects(package: str) -> None:
    """`graph` and `gnn` are generic names: make sure no other distribution shadows ours."""
    module = __import__(package)
    assert Path(module.__file__).resolve().parent == ROOT / package


def _modules(package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / package).rglob("*.py")
    )


def _imports_after(package: str) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {_modules(package)!r}:\n"
        "    importlib.import_module(name)\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(out.stdout.split())


def test_graph_never_imports_torch() -> None:
    loaded = _imports_after("graph")
    assert not loaded & {"torch", "torch_geometric", "gnn"}


def test_gnn_never_imports_neo4j() -> None:
    loaded = _imports_after("gnn")
    assert not loaded & {"neo4j", "graph"}


def test_loaders_import_neither_neo4j_nor_torch() -> None:
    loaded = _imports_after("loaders")
    assert not loaded & {"neo4j", "torch", "graph", "gnn", "tradegraph"}
