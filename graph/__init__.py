"""Everything Neo4j: the local server, schema, loading, analytics, point-in-time snapshots,
the analysts' Cypher library and score write-back. Never imports torch."""
