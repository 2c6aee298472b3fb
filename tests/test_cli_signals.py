"""Signals against a real render (the demo model): SIGTERM and a double Ctrl-C stop cleanly, resumably."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def render_args(out: Path) -> list[str]:
    return [sys.executable, "-m", "ltx2", "render", "--demo", "--frames", "121", "--clip-frames", "33", "--tail-frames", "9",
            "--width", "64", "--height", "64", "--steps", "8", "--out", str(out)]  # fmt: skip


def stop_after_first_chunk(out: Path, signals: list[int], gap: float) -> tuple[int, str]:
    proc = subprocess.Popen(render_args(out), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("chunk ") and " done" in line:
                break
        for i, signum in enumerate(signals):
            if i:
                time.sleep(gap)
            proc.send_signal(signum)
        rest = proc.communicate(timeout=300)[1]
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, "".join(seen) + rest


@pytest.mark.parametrize(
    "signals, gap, code",
    [([signal.SIGTERM], 0, 143), ([signal.SIGINT, signal.SIGINT], 0.0, 130), ([signal.SIGINT, signal.SIGINT], 0.2, 130)],
    ids=["sigterm", "double-ctrl-c-at-once", "double-ctrl-c-during-cleanup"],
)
def test_signals_stop_cleanly_and_the_run_resumes(tmp_path, signals, gap, code):
    out = tmp_path / "x.mp4"
    returncode, stderr = stop_after_first_chunk(out, signals, gap)
    assert returncode == code, stderr  # not -11: the encoder is joined before its file closes
    assert "Traceback" not in stderr and "resume" in stderr, stderr
    assert not out.exists() and not list(tmp_path.glob(".x.mp4.*")), "nothing under the final name, no temporary file"
    assert list((tmp_path / "x.mp4.ltx2run").glob("chunk_*.safetensors")), "the finished chunks stay for a resume"
    r = subprocess.run(render_args(out), check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "(resumed)" in r.stderr, r.stderr
    assert out.exists()


INTERRUPTED_IMPORT = """
import builtins, runpy
real_import = builtins.__import__
def ctrl_c_while_loading_the_cli(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "cli" and level == 1 and globals and globals.get("__package__") == "ltx2":
        raise KeyboardInterrupt  # as a Ctrl-C while torch loads
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = ctrl_c_while_loading_the_cli
runpy.run_module("ltx2", run_name="__main__")
"""


def test_ctrl_c_while_the_cli_loads_is_one_line_and_status_130():
    r = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stderr, r.stdout) == (130, "error: interrupted\n", "")
