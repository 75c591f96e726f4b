"""PyTorch Geometric data from snapshot DataFrames, GraphSAGE, baselines, training,
evaluation, calibration, score scale and reason codes. Never imports neo4j."""
