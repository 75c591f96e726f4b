"""The API's routes, one module per area (FastAPI's larger-application layout)."""
