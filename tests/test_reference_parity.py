"""Parity with the reference implementation, driven by tests/fixtures/reference/index.json.

Every case's kind has a runner module ``tests/parity_<kind>.py`` with ``run(case)``, which must check every
expected tensor of the case. A kind with no runner fails, unless it is listed in PENDING with the issue that
brings it; a PENDING kind whose runner passes fails too (strict), so the list only ever shrinks.
"""

import importlib

import pytest
from reference import Case, cases

PENDING = {
}


def params():
    for entry in cases():
        marks = []
        if entry["kind"] in PENDING:
            marks.append(pytest.mark.xfail(strict=True, reason=f"not built yet: {PENDING[entry['kind']]}"))
        yield pytest.param(entry, id=entry["case"], marks=marks)


@pytest.mark.parametrize("entry", params())
def test_reference_case(entry):
    case = Case(entry)
    try:
        runner = importlib.import_module(f"parity_{case.kind}")
    except ModuleNotFoundError:
        pytest.fail(f"no parity runner for kind {case.kind!r}: add tests/parity_{case.kind}.py")
    runner.run(case)
    unchecked = sorted(set(case.expected) - case.checked)
    assert not unchecked, f"{case.id}: expected tensors never compared: {unchecked}"
