"""Parity with the reference implementation, driven by tests/fixtures/reference/index.json.

Every case's kind has a runner module ``tests/parity_<kind>.py`` with ``run(case)``, which must check every
expected tensor of the case; a kind with no runner fails, so a new kind of golden case cannot go unnoticed.
"""

import importlib

import pytest
from reference import Case, cases


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
