"""Starting (or joining) the Spark session the engine runs on.

``local[*]`` on this machine by default; any cluster through ``master`` (``spark://``,
``yarn``, ``k8s://``) or Spark Connect through ``SPARK_REMOTE``. Timestamps are UTC
throughout, as in the contract. In local mode the driver is the executor: ``driver_memory``
is all the JVM gets, and Neo4j's own heap (``graph.server``) is separate from it.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from loaders import PYSPARK_PANDAS_WARNING

logger = logging.getLogger(__name__)
#: The same filter for Spark's Python workers, which do not run this package's init first.
_QUIET_WORKERS = f"ignore:{PYSPARK_PANDAS_WARNING}:FutureWarning"

#: Hash partitions per core that businesses are spread over (one kernel call per partition,
#: :func:`loaders.spark.blocks.map_blocks`).
BUCKETS_PER_CORE = 2


@dataclass(frozen=True)
class SparkOptions:
    """How to reach Spark. ``master``: ``local[*]`` when neither it nor ``SPARK_REMOTE`` is
    set; ``driver_memory``: the local JVM's heap (ignored by a running or remote cluster);
    ``buckets``: hash partitions of businesses (default: ``BUCKETS_PER_CORE`` x cores)."""

    master: str | None = None
    driver_memory: str = "3g"
    buckets: int | None = None


def spark_session(options: SparkOptions | None = None) -> Any:
    """The active Spark session, or a new one as ``options`` say.

    Raises :class:`ImportError` with what to install when PySpark is missing."""
    options = options or SparkOptions()
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise ImportError(
            "the Spark engine needs PySpark: run `make setup` (or pip install pyspark)"
        ) from exc
    remote = os.environ.get("SPARK_REMOTE")
    builder = SparkSession.builder.appName("tradegraph")
    if remote and options.master is None:
        builder = builder.remote(remote)
    else:
        master = options.master or "local[*]"
        if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
            # Local workers must run this interpreter (its environment holds pandas and
            # tradegraph), not whichever `python3` comes first on PATH; PySpark reads the
            # worker's interpreter from this variable when the context starts.
            os.environ["PYSPARK_PYTHON"] = sys.executable
        builder = (
            builder.master(master)
            .config("spark.driver.memory", options.driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.executorEnv.PYTHONWARNINGS", _QUIET_WORKERS)
            .config("spark.sql.shuffle.partitions", str(_default_buckets()))
        )
    spark = builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("ERROR")
    logger.info("spark session: %s", spark.version)
    return spark


def _default_buckets() -> int:
    return BUCKETS_PER_CORE * (os.cpu_count() or 1)


def buckets(options: SparkOptions | None, spark: Any) -> int:
    """How many hash partitions of businesses to spread the work over."""
    if options is not None and options.buckets:
        return options.buckets
    return int(spark.conf.get("spark.sql.shuffle.partitions", str(_default_buckets())))
