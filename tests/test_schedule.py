import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule, ScheduleError

PLAN = make_plan(total_frames=481, fps=24, clip_frames=121, tail_frames=25)  # keeps start at 0, 121, 217, 313, 409


def test_defaults():
    p = ChunkSchedule().resolve(3, PLAN)
    assert (p.prompt, p.seed, p.handoff_strength, p.tail_noise, p.denoise, p.guidance, p.loras, p.anchors) == (
        "", 0, 1.0, 0.0, 1.0, None, (), ()
    )


def test_prompt_keyframes_stick_until_the_next():
    s = ChunkSchedule.parse(
        {"prompt": "a", "prompts": [{"chunk": 2, "text": "b"}, {"chunk": 4, "text": "c"}], "negative_prompt": "blur"}
    )
    assert [s.resolve(i).prompt for i in range(6)] == ["a", "a", "b", "b", "c", "c"]
    assert {s.resolve(i).negative_prompt for i in range(6)} == {"blur"}


def test_time_keyframes_take_effect_at_the_nearest_chunk_boundary():
    s = ChunkSchedule.parse(
        {
            "prompt": "a",
            "prompts": [
                {"seconds": 8.5, "text": "b"},  # frame 204: boundary 217 (chunk 2) is nearer than 121
                {"frame": 300, "text": "c"},  # nearer to 313 (chunk 3)
            ],
        }
    )
    assert [s.resolve(i, PLAN).prompt for i in range(5)] == ["a", "a", "b", "c", "c"]
    with pytest.raises(ScheduleError, match=r"prompts\[0\]: a time .* needs the chain's plan"):
        s.resolve(1)


def test_per_chunk_lists_repeat_their_last_value():
    s = ChunkSchedule.parse({"handoff_strength": [1.0, 0.8, 0.6], "tail_noise": 0.1, "guidance": [3, 4]})
    assert [s.resolve(i).handoff_strength for i in range(5)] == [1.0, 0.8, 0.6, 0.6, 0.6]
    assert [s.resolve(i).tail_noise for i in range(3)] == [0.1, 0.1, 0.1]
    assert [s.resolve(i).guidance for i in range(3)] == [3.0, 4.0, 4.0]


def test_seed_modes():
    assert [ChunkSchedule.parse({"seed": [5, 9]}).resolve(i).seed for i in range(4)] == [5, 9, 9, 9]
    inc = ChunkSchedule.parse({"seed": [5, 9], "seed_mode": "increment"})
    assert [inc.resolve(i).seed for i in range(4)] == [5, 9, 10, 11]
    assert [ChunkSchedule.parse({"seed": 42, "seed_mode": "increment"}).resolve(i).seed for i in range(3)] == [42, 43, 44]


def test_lora_ramps():
    s = ChunkSchedule.parse(
        {
            "loras": [
                {"name": "list.safetensors", "scale": [0.0, 0.5]},
                {"name": "ramp.safetensors", "keyframes": [{"chunk": 1, "scale": 0.2}, {"chunk": 5, "scale": 1.0}]},
                {"name": "plain.safetensors"},
            ]
        }
    )
    got = [dict(s.resolve(i).loras) for i in range(7)]
    assert [g["list.safetensors"] for g in got] == [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert [g["ramp.safetensors"] for g in got] == pytest.approx([0.2, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert {g["plain.safetensors"] for g in got} == {1.0}


def test_anchors_land_on_their_chunk():
    s = ChunkSchedule.parse(
        {"anchors": [{"chunk": 0, "image": "start.png"}, {"seconds": 9.0, "image": "end.png", "position": "last", "strength": 0.7}]}
    )
    a0 = s.resolve(0, PLAN).anchors
    assert [(a.image, a.position, a.strength) for a in a0] == [("start.png", "first", 1.0)]
    assert [(a.image, a.position, a.strength) for a in s.resolve(2, PLAN).anchors] == [("end.png", "last", 0.7)]
    assert s.resolve(1, PLAN).anchors == ()


def test_check_warns_about_points_past_the_end_and_collisions():
    s = ChunkSchedule.parse({"prompts": [{"chunk": 9, "text": "x"}, {"frame": 120, "text": "y"}, {"frame": 125, "text": "z"}]})
    warnings = s.check(PLAN)
    assert any("prompts[0]" in w and "past the last chunk" in w for w in warnings)
    assert any("prompts[2]" in w and "later one wins" in w for w in warnings)


# --- JSON round trip ------------------------------------------------------------------------------------

points = st.one_of(
    st.builds(dict, chunk=st.integers(0, 50)),
    st.builds(dict, seconds=st.floats(0, 600, allow_nan=False)),
    st.builds(dict, frame=st.integers(0, 10_000)),
)
unit = st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=5))
text = st.text(max_size=20)


@st.composite
def schedules(draw):
    d = {}
    if draw(st.booleans()):
        d["prompt"] = draw(text)
    d["prompts"] = [dict(draw(points), text=draw(text)) for _ in range(draw(st.integers(0, 3)))]
    d["seed"] = draw(st.one_of(st.integers(0, 2**53 - 1), st.lists(st.integers(0, 2**32), min_size=1, max_size=4)))
    d["seed_mode"] = draw(st.sampled_from(["fixed", "increment"]))
    d["handoff_strength"] = draw(unit)
    d["tail_noise"] = draw(unit)
    if draw(st.booleans()):
        d["guidance"] = draw(st.one_of(st.floats(0, 20), st.lists(st.floats(0, 20), min_size=1, max_size=3)))
    names = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3, unique=True))
    d["loras"] = []
    for name in names:
        if draw(st.booleans()):
            d["loras"].append({"name": name, "scale": draw(st.one_of(st.floats(-2, 2), st.lists(st.floats(-2, 2), min_size=1, max_size=4)))})
        else:
            keys = [dict(draw(points), scale=draw(st.floats(-2, 2))) for _ in range(draw(st.integers(1, 3)))]
            d["loras"].append({"name": name, "keyframes": keys})
    d["anchors"] = [
        dict(draw(points), image=draw(st.text(min_size=1, max_size=10)), position=draw(st.sampled_from(["first", "last"])), strength=draw(st.floats(0, 1)))
        for _ in range(draw(st.integers(0, 2)))
    ]
    return d


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_json_round_trip(raw):
    s = ChunkSchedule.parse(json.dumps(raw))
    text = s.to_json()
    again = ChunkSchedule.parse(text)
    assert again == s
    assert again.to_json() == text
    assert [again.resolve(i, PLAN) for i in range(5)] == [s.resolve(i, PLAN) for i in range(5)]


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, field, fragment",
    [
        ('{"prompt": "a",', "schedule", "not valid JSON"),
        ("[1, 2]", "schedule", "expected a JSON object"),
        ('{"sed": 3}', "sed", "did you mean 'seed'"),
        ('{"prompts": [{"chunk": 1, "txt": "a"}]}', "prompts[0].txt", "did you mean 'text'"),
        ('{"seed": "abc"}', "seed", "expected a whole-number seed"),
        ('{"seed": 1.5}', "seed", "expected a whole-number seed"),
        ('{"seed": [1, -2]}', "seed", "item 1: -2 is out of range"),
        ('{"handoff_strength": 1.5}', "handoff_strength", "out of range; expected a number from 0 to 1"),
        ('{"handoff_strength": []}', "handoff_strength", "empty list"),
        ('{"prompts": [{"text": "a"}]}', "prompts[0]", "exactly one of chunk, seconds or frame"),
        ('{"prompts": [{"chunk": 1, "seconds": 2, "text": "a"}]}', "prompts[0]", "(got chunk, seconds)"),
        ('{"prompts": [{"chunk": -1, "text": "a"}]}', "prompts[0].chunk", "greater than or equal to 0"),
        ('{"prompt": 5}', "prompt", "valid string"),
        ('{"loras": [{"name": "a", "scale": 1, "keyframes": [{"chunk": 0, "scale": 1}]}]}', "loras[0]", "not both"),
        ('{"loras": [{"name": "a"}, {"name": "a"}]}', "loras", "more than once"),
        ('{"loras": [{"name": "a", "keyframes": [{"chunk": 0, "scale": 99}]}]}', "loras[0].keyframes[0].scale", "less than or equal to 10"),
        ('{"anchors": [{"chunk": 0, "image": "a.png", "position": "middle"}]}', "anchors[0].position", "'first' or 'last'"),
        ('{"anchors": [{"chunk": 0}]}', "anchors[0].image", "this field is required"),
        ('{"version": 2}', "version", "Input should be 1"),
    ],
)
def test_bad_schedules_name_the_field(source, field, fragment):
    with pytest.raises(ScheduleError) as e:
        ChunkSchedule.parse(source)
    assert len(e.value.problems) == 1, e.value.problems
    got_field, message = e.value.problems[0]
    assert got_field == field
    assert fragment in message


def test_empty_means_defaults():
    assert ChunkSchedule.parse("") == ChunkSchedule.parse(None) == ChunkSchedule.parse("  ") == ChunkSchedule()


def test_json_schema_describes_the_fields():
    schema = ChunkSchedule.json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(ChunkSchedule.model_fields)
    seed = schema["properties"]["seed"]
    assert {"type": "integer", "minimum": 0, "maximum": 2**53 - 1} in seed["anyOf"]


def test_read_a_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "caf\xc3\xa9"}')  # a byte-order mark, as some editors write
    assert ChunkSchedule.read(path).prompt == "café"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty; write {} for a schedule of all defaults"),
        (b" \n\t", "is empty; write {} for a schedule of all defaults"),
        (b'{"prompt": "caf\xe9"}', "is not UTF-8 text (byte 0xe9 at offset 15)"),
        (b"[" * 100_000, "not a schedule: the JSON is nested too deeply"),
        (b'{"seed": ' + b"9" * 5000 + b"}", "not valid JSON: a number too long to read"),
    ],
)
def test_read_refuses_what_is_no_schedule(tmp_path, data, message):
    path = tmp_path / "s.json"
    path.write_bytes(data)
    with pytest.raises(ScheduleError) as e:
        ChunkSchedule.read(path)
    assert len(e.value.problems) == 1 and e.value.problems[0][0] == "schedule" and e.value.problems[0][1].endswith(message)


def test_read_a_missing_file(tmp_path):
    with pytest.raises(ScheduleError, match="cannot read .*nope.json: No such file or directory"):
        ChunkSchedule.read(tmp_path / "nope.json")


def test_many_problems_are_summed_up():
    with pytest.raises(ScheduleError) as e:
        ChunkSchedule.parse({f"k{i}": 0 for i in range(50)})
    assert len(e.value.problems) == 21 and e.value.problems[-1] == ("schedule", "and 30 more problems")


def test_messages_quote_long_values_cut_short():
    with pytest.raises(ScheduleError) as e:
        ChunkSchedule.parse({"seed": "x" * 10_000, "y" * 100: 1})
    (seed, seed_message), (key, _) = sorted(e.value.problems)
    assert seed == "seed" and len(seed_message) < 150 and seed_message.endswith("...")
    assert key == "y" * 37 + "..."
