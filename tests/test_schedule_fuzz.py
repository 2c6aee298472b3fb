"""Schedules from anything: random JSON values, random bytes, absurd nesting. Each is a schedule or one
ScheduleError (an InputError naming its problems), never another exception, never a hang."""

import json
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import MAX_PROBLEMS, ChunkSchedule, ScheduleError
from ltx2.errors import InputError

PLAN = make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25)
FIELDS = [*ChunkSchedule.model_fields, "chunk", "seconds", "frame", "text", "name", "scale", "keyframes", "image", "position", "strength"]

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(["first", "last", "increment", 1e300, 2**60])
KEYS = st.sampled_from(FIELDS) | st.text(max_size=10)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)
SCHEDULES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8)


@pytest.fixture(autouse=True)
def no_hang():
    """Fail (rather than hang the suite) when a test runs past a minute."""

    def hung(*_):
        raise TimeoutError("a schedule took over a minute")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def accepted_or_refused(source):
    """Parse ``source``; a schedule that parses also resolves, checks and round-trips on a plan."""
    try:
        schedule = ChunkSchedule.parse(source) if not isinstance(source, Path) else ChunkSchedule.read(source)
    except ScheduleError as e:
        assert e.problems and len(e.problems) <= MAX_PROBLEMS + 1
        assert all(isinstance(field, str) and isinstance(message, str) and len(message) < 1000 for field, message in e.problems)
        return None
    try:
        for i in range(len(PLAN.chunks) + 1):
            schedule.resolve(i, PLAN)
        schedule.check(PLAN)
    except InputError:
        pass  # a valid file can still ask for what this plan cannot give
    assert ChunkSchedule.parse(schedule.to_json()) == schedule
    return schedule


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(VALUES, SCHEDULES))
def test_random_json(value):
    accepted_or_refused(json.dumps(value))


@settings(max_examples=100, deadline=2000)
@given(SCHEDULES)
def test_random_dicts(value):
    accepted_or_refused(value)


@settings(max_examples=200, deadline=2000)
@given(st.binary(max_size=200) | st.builds(lambda v, cut: json.dumps(v).encode()[:cut], SCHEDULES, st.integers(0, 200)))
def test_random_bytes_in_a_file(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.json"
        path.write_bytes(data)
        accepted_or_refused(path)


DEEP = 100_000


@pytest.mark.parametrize(
    "source",
    [
        "[" * DEEP,
        '{"a":' * DEEP,
        "[" * DEEP + "]" * DEEP,
        '{"prompt": ' + "[" * 900 + "]" * 900 + "}",
        '{"loras": [{"name": "x", "scale": ' + "[" * 900 + "]" * 900 + "}]}",
        '{"seed": ' + "9" * 5000 + "}",
        json.dumps({f"k{i}": i for i in range(10_000)}),
        json.dumps({"prompt": "x" * 10_000_000}),
    ],
    ids=["deep list", "deep object", "deep closed list", "nested prompt", "nested scale", "huge integer", "many unknown fields", "long prompt"],
)
def test_extreme_json(source):
    accepted_or_refused(source)


def test_deep_python_structures():
    deep = []
    for _ in range(DEEP):
        deep = [deep]
    assert accepted_or_refused({"prompt": deep}) is None
    assert accepted_or_refused({"anchors": deep}) is None
