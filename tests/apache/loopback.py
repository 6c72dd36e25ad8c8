"""The loopback-bind preload for Apache's Java processes: loopback_bind.c, compiled once with
the machine's C compiler into the artifact cache (named by the source's hash, so an edit
rebuilds it) and put into LD_PRELOAD by the harness.

Apache's proxy, its broker's HA listener and every listener of 4.9 bind the wildcard address
and have no option to change it; with the preload they bind 127.0.0.1.

What must stay true: on Linux the preload is always used (a missing compiler is an error that
says what to install, never a silent wildcard listener); elsewhere there is none.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from apache_artifacts import cache_root

SOURCE = Path(__file__).with_name("loopback_bind.c")


def loopback_preload() -> Optional[Path]:
    """The compiled preload library (built on first use), or None where LD_PRELOAD does not
    exist (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    source = SOURCE.read_bytes()
    target = cache_root() / "loopback-bind" / f"{hashlib.sha256(source).hexdigest()[:16]}.so"
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise RuntimeError(
            "no C compiler (cc or gcc) to build tests/apache/loopback_bind.c, which keeps "
            "Apache's listeners on 127.0.0.1: install gcc (Debian: apt-get install gcc)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(SOURCE), "-ldl"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if built.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"building {SOURCE.name} failed:\n{built.stderr}")
    os.replace(partial, target)
    return target


def with_preload(env: dict) -> dict:
    """``env`` with the preload added in front of any LD_PRELOAD it already has."""
    preload = loopback_preload()
    if preload is None:
        return env
    others = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = f"{preload} {others}".strip()
    return env
