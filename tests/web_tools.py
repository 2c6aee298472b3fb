"""What the web tests need from the machine: node, the npm packages of tests/web, Chromium.

A missing tool fails the test with the command that installs it (CI installs them in .ci/run); web tests
never skip silently.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB_TESTS = ROOT / "tests" / "web"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
]


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed: apt-get install -y nodejs npm (see .ci/run)")
    return path


def node_modules() -> Path:
    modules = WEB_TESTS / "node_modules"
    if not (modules / "ajv").is_dir():
        pytest.fail(f"the web test packages are not installed: run `npm ci` in {WEB_TESTS} (see .ci/run)")
    return modules


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: apt-get install -y chromium (see .ci/run)")


def run_node(script: Path | str, payload: dict | None = None, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs a Node script or command with PYTHON set to this interpreter; fails with its output on error."""
    cmd = [node(), *([str(script)] if script else []), *args]
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        cmd,
        cwd=WEB_TESTS,
        input=None if payload is None else json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}")
    return done
