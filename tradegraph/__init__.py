"""tradegraph: a graph-based risk network for small businesses on a marketplace.

The application package: settings, the ``tradegraph`` CLI, the HTTP API and reports. The work
itself happens in ``loaders`` (exports), ``graph`` (Neo4j) and ``gnn`` (PyTorch Geometric).
"""

from importlib.metadata import PackageNotFoundError, version

# pyproject.toml is the one place the version is written; the installed metadata carries it.
try:
    __version__ = version("tradegraph")
except PackageNotFoundError:  # a source tree that was never installed (pip install -e .)
    __version__ = "0+unknown"
