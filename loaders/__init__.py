"""Marketplace exports: the input contract, validation and hashing, point-in-time features,
the synthetic marketplace and adapters for real public datasets. No Neo4j, no torch here."""
