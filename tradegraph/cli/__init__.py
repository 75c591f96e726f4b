"""The ``tradegraph`` command line: one typer app, one module per area."""
