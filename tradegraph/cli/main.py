"""Entry point of the ``tradegraph`` command: builds the app from each area's module."""

from __future__ import annotations

import typer

from tradegraph.cli import (
    demo_cmd,
    evaluate_cmd,
    generate_cmd,
    load_cmd,
    neo4j_cmd,
    query_cmd,
    real_cmd,
    report_cmd,
    score_cmd,
    serve_cmd,
    snapshot_cmd,
    train_cmd,
    validate_cmd,
)

app = typer.Typer(
    name="tradegraph",
    help=(
        "Graph-based risk network for small businesses on a marketplace.\n\n"
        "Typical flow: generate (or bring) an export -> validate -> load into Neo4j -> "
        "train -> score -> query / clusters / report. Run any command with --help."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

for module in (
    demo_cmd,
    neo4j_cmd,
    generate_cmd,
    validate_cmd,
    real_cmd,
    load_cmd,
    snapshot_cmd,
    evaluate_cmd,
    train_cmd,
    score_cmd,
    query_cmd,
    serve_cmd,
    report_cmd,
):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
