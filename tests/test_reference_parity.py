"""Parity with the reference implementation, driven by tests/fixtures/reference/index.json (or the index of the
set ``LTX2_REFERENCE_DIR`` names).

Every case's kind has a runner module ``tests/parity_<kind>.py`` with ``run(case)``, which must check every
expected tensor of the case; a kind with no runner fails, so a new kind of golden case cannot go unnoticed.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reference import BUNDLED, ENVIRONMENT, INDEX, Case, ReferenceSetError, cases, locate
from safetensors.torch import load_file, save_file


@pytest.mark.parametrize("entry", cases(), ids=[entry["case"] for entry in cases()])
def test_reference_case(entry):
    case = Case(entry)
    try:
        runner = importlib.import_module(f"parity_{case.kind}")
    except ModuleNotFoundError:
        pytest.fail(f"no parity runner for kind {case.kind!r}: add tests/parity_{case.kind}.py")
    runner.run(case)
    unchecked = sorted(set(case.expected) - case.checked)
    assert not unchecked, f"{case.id}: expected tensors never compared: {unchecked}"


def test_a_missing_or_malformed_reference_dir_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(ReferenceSetError, match=r"LTX2_REFERENCE_DIR=.*nowhere: no such folder"):
        locate({ENVIRONMENT: str(tmp_path / "nowhere")})
    with pytest.raises(ReferenceSetError, match=r"no index\.json in"):
        locate({ENVIRONMENT: str(tmp_path)})
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ReferenceSetError, match=r"index\.json cannot be read as JSON"):
        locate({ENVIRONMENT: str(tmp_path)})
    (tmp_path / "index.json").write_text('{"cases": []}')
    with pytest.raises(ReferenceSetError, match=r"is not a reference index"):
        locate({ENVIRONMENT: str(tmp_path)})
    (tmp_path / "index.json").write_text('{"cases": [{"case": "a", "file": "gone.safetensors"}], "checkpoints": {}}')
    with pytest.raises(ReferenceSetError, match=r"1 case file\(s\) listed in .* are missing, e.g. gone\.safetensors"):
        locate({ENVIRONMENT: str(tmp_path)})
    assert locate({})[0] == BUNDLED  # unset: the bundled set


def test_the_parity_suite_reads_the_set_that_ltx2_reference_dir_names(tmp_path):
    """A set holding the schedules case twice, once with an expected tensor changed: the suite collects exactly
    those two cases and fails only the tampered one, so cases, sidecars and tensors all come from that folder."""
    entry = next(e for e in cases() if e["kind"] == "schedules")
    tensors = load_file(str(BUNDLED / entry["file"]))
    tampered = {k: (v + 1 if k == "expected.distilled_stage1" else v) for k, v in tensors.items()}
    index = {"format": INDEX["format"], "checkpoints": {}, "cases": []}
    for name, data in (("copied", tensors), ("tampered", tampered)):
        (tmp_path / name).mkdir()
        save_file(data, str(tmp_path / name / "case.safetensors"))
        shutil.copy(BUNDLED / entry["sidecar"], tmp_path / name / "case.json")
        index["cases"].append({**entry, "case": f"{name}/schedules", "file": f"{name}/case.safetensors", "sidecar": f"{name}/case.json"})
    (tmp_path / "index.json").write_text(json.dumps(index))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "test_reference_case", str(Path(__file__))],
        env={**os.environ, ENVIRONMENT: str(tmp_path)}, cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert "1 failed, 1 passed" in run.stdout, run.stdout[-3000:]
    assert "FAILED" in run.stdout and "tampered/schedules" in run.stdout and "copied/schedules] FAILED" not in run.stdout
