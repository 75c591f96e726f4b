"""The scoring API (FastAPI): ``create_app(driver, settings)``; ``tradegraph serve`` runs it."""

from tradegraph.api.app import MissingApiKeyError, create_app

__all__ = ["MissingApiKeyError", "create_app"]
