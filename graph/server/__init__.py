"""A local Neo4j Community server run from its Maven Central jars (no Docker needed)."""
