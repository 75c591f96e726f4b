"""The Spark engine: point-in-time frames and features from the Parquet lake, on a cluster.

The same frames as :func:`loaders.lake.read_lake_snapshot` and the same feature columns as
:func:`loaders.features.compute_features`, computed by running the shared definitions
(:mod:`loaders.point_in_time`, :mod:`loaders.feature_kernels`) per hash bucket of businesses.
PySpark is imported only here, and only when a command asks for ``--engine spark``.
"""
