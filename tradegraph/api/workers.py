"""The API in several worker processes: ``tradegraph serve --workers N``.

One Python process serves requests under one interpreter lock, so it uses at most one core
however many the machine has; with 8 clients on stored scores it was the limit at about 3 ms
of CPU per request. uvicorn's worker processes share the listening socket, and each builds its
own app here (its own driver, scorer, snapshot cache and model: memory grows with N), from the
settings and the environment the command passed down. Stored scores read Neo4j, so every
worker answers alike; on-the-fly caches are per worker, so each worker's first on-the-fly
request of a date reads that snapshot.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from fastapi import FastAPI

from tradegraph.api.app import create_app
from tradegraph.settings import get_settings

#: The model folder ``tradegraph serve --model`` passes to its workers (unset: the latest).
MODEL_ENV = "TRADEGRAPH_SERVE_MODEL"
#: What uvicorn imports in each worker.
FACTORY = "tradegraph.api.workers:app_in_worker"


def app_in_worker() -> FastAPI:
    """The app of one worker process: its own Neo4j driver (closed when the worker exits),
    the key from ``TRADEGRAPH_API_KEY`` and the model from :data:`MODEL_ENV`."""
    from tradegraph.cli.common import open_driver

    settings = get_settings()
    driver = open_driver(settings, start=False)  # `serve` started the local server already
    atexit.register(driver.close)
    model = os.environ.get(MODEL_ENV)
    return create_app(driver, settings, Path(model) if model else None)
