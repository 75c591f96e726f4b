"""tradegraph: a graph-based risk network for small businesses on a marketplace.

The application package: settings, the ``tradegraph`` CLI, the HTTP API and reports. The work
itself happens in ``loaders`` (exports), ``graph`` (Neo4j) and ``gnn`` (PyTorch Geometric).
"""

__version__ = "0.1.0"
