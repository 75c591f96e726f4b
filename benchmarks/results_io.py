"""Stored benchmark results: one JSON file per benchmark in ``benchmarks/results/``.

Every benchmark script writes its figures through :func:`write_result`, which adds what a
reader needs to trust a number: the command that produced it, when, on which machine and how
busy that machine was, and the commit. ``benchmarks/render.py`` turns these files into
``benchmarks/README.md``; no figure in the docs is typed by hand. Figures are plain JSON; an
interval is written ``{"value": x, "lo": lo, "hi": hi}`` and a spread over seeds
``{"mean": x, "std": s}``, which the renderer shows as ``x [lo, hi]`` and ``x ± s``.

The scripts import this module by its file name (``from results_io import write_result``):
``python benchmarks/<script>.py`` puts ``benchmarks/`` first on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
GENERATOR_DIR = REPO / "loaders" / "synthetic"
THREAD_VARIABLES = ("TRADEGRAPH_TORCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
SECRET_OPTIONS = ("--password", "--api-key")
CLEAN_ANYWAY = (":(exclude)benchmarks/results", ":(exclude)*.md")

# Taken when a script imports this module, i.e. as it starts: a benchmark's figures depend on
# how busy the (often shared) machine was while it ran, so the result records both ends.
_LOAD_AT_START = os.getloadavg()


def write_result(
    name: str,
    figures: Any,
    *,
    command: str,
    generator_version: str | None = None,
    path: Path | None = None,
) -> Path:
    """Write ``figures`` with their provenance to ``benchmarks/results/<name>.json``.

    ``name`` picks the renderer in ``benchmarks/render.py`` (the script's name); ``path``
    writes elsewhere (a second stored run of one benchmark, or a scratch file). Returns the
    path written. Safe to call after every phase of a long run: it rewrites the whole file.
    """
    target = path if path is not None else RESULTS_DIR / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "name": name,
        "command": command,
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        "git_commit": git_commit(),
    }
    if generator_version is not None:
        record["generator_version"] = generator_version
    record["figures"] = figures
    target.write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
    return target


def read_results(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every stored result in ``folder`` (default ``benchmarks/results/``), by file name."""
    folder = folder if folder is not None else RESULTS_DIR
    results = []
    for file in sorted(folder.glob("*.json")):
        record = json.loads(file.read_text())
        record["file"] = file.name
        results.append(record)
    return results


def command_line() -> str:
    """How this script was run, as a command a reader can paste from the repository root;
    the values of secret options (``--password``) are replaced by ``REDACTED``."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(REPO))
    except ValueError:
        shown = sys.argv[0]
    args: list[str] = []
    for arg in sys.argv[1:]:
        if args and args[-1] in SECRET_OPTIONS:
            arg = "REDACTED"
        elif arg.startswith(tuple(f"{option}=" for option in SECRET_OPTIONS)):
            arg = arg.split("=", 1)[0] + "=REDACTED"
        args.append(arg)
    return shlex.join(["python", shown, *args])


def machine() -> dict[str, Any]:
    """The machine and how busy it was: cores, memory, load average at start and now, and
    this process's niceness (benchmarks on a shared machine run under ``nice``)."""
    import psutil

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "threads_env": {v: os.environ[v] for v in THREAD_VARIABLES if v in os.environ},
        "load_average_start": [round(x, 2) for x in _LOAD_AT_START],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "nice": os.nice(0),
    }


def git_commit() -> str | None:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it (stored
    results and Markdown aside: writing a result must not make the next one look dirty)."""
    try:
        head = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *CLEAN_ANYWAY)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def generator_version() -> str:
    """A fingerprint of the synthetic generator's source: figures measured on generated data
    are comparable only when it is the same."""
    digest = hashlib.sha256()
    for file in sorted(GENERATOR_DIR.rglob("*.py")):
        digest.update(file.relative_to(GENERATOR_DIR).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths, which benchmark figures often hold, as plain JSON."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
