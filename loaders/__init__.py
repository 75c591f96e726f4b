"""Marketplace exports: the input contract, validation and hashing, point-in-time features,
the synthetic marketplace and adapters for real public datasets. No Neo4j, no torch here."""

import warnings

#: PySpark 4 warns, on import and on every pandas conversion, that it does not yet "fully"
#: support pandas 3; pandera imports ``pyspark.pandas`` whenever PySpark is installed, so the
#: warning would reach every command. The Spark engine is checked against the pandas path
#: instead (``tests/loaders/test_spark_engine.py``).
PYSPARK_PANDAS_WARNING = "PySpark does not yet fully support pandas"
warnings.filterwarnings("ignore", message=PYSPARK_PANDAS_WARNING, category=FutureWarning)
