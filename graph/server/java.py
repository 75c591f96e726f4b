"""Find a Java runtime that Neo4j 5.26 supports (17 or 21; not 25)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graph.server.errors import Neo4jSetupError

SUPPORTED_JAVA_MAJORS = (17, 21)
_JVM_ROOT = Path("/usr/lib/jvm")


@dataclass(frozen=True)
class JavaRuntime:
    """A ``java`` executable and its major version."""

    executable: Path
    major: int


def java_major(executable: Path) -> int | None:
    """Major version of a ``java`` executable (``17`` for ``17.0.15``), or None if it won't run."""
    try:
        proc = subprocess.run(
            [str(executable), "-version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _candidates(java_home: Path | None) -> list[Path]:
    found: list[Path] = []
    if env_home := os.environ.get("JAVA_HOME"):
        found.append(Path(env_home) / "bin" / "java")
    if on_path := shutil.which("java"):
        found.append(Path(on_path).resolve())
    if _JVM_ROOT.is_dir():
        found.extend(sorted(p / "bin" / "java" for p in _JVM_ROOT.iterdir() if p.is_dir()))
    seen: set[Path] = set()
    unique = []
    for path in found:
        if path.exists() and path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def find_java(java_home: Path | None = None) -> JavaRuntime:
    """The Java to run Neo4j with.

    An explicit ``java_home`` (setting ``TRADEGRAPH_JAVA_HOME``) must be a supported version;
    otherwise ``$JAVA_HOME``, ``java`` on the PATH and ``/usr/lib/jvm/*`` are tried in that
    order and the first Java 17 or 21 wins (a Java 25 beside it is skipped: Neo4j 5.26 does
    not run on it).
    """
    if java_home is not None:
        executable = Path(java_home) / "bin" / "java"
        major = java_major(executable)
        if major is None:
            raise Neo4jSetupError(
                f"TRADEGRAPH_JAVA_HOME={java_home} has no working bin/java. Point it at a "
                "Java 17 or 21 installation (e.g. apt-get install openjdk-17-jre-headless)."
            )
        if major not in SUPPORTED_JAVA_MAJORS:
            raise Neo4jSetupError(
                f"TRADEGRAPH_JAVA_HOME={java_home} is Java {major}; Neo4j 5.26 runs on Java 17 "
                "or 21 only. Point TRADEGRAPH_JAVA_HOME at one of those."
            )
        return JavaRuntime(executable, major)
    tried = []
    for executable in _candidates(None):
        major = java_major(executable)
        tried.append(f"{executable} (Java {major if major is not None else '?'})")
        if major in SUPPORTED_JAVA_MAJORS:
            return JavaRuntime(executable, major)
    detail = "; found: " + ", ".join(tried) if tried else "; no Java was found at all"
    raise Neo4jSetupError(
        "Neo4j 5.26 needs Java 17 or 21" + detail + ". Install one (e.g. "
        "`apt-get install openjdk-17-jre-headless`) or set TRADEGRAPH_JAVA_HOME, or point "
        "NEO4J_URI at a Neo4j server you already run."
    )
