import importlib

import pytest
import torch
from test_pack import node_classes


@pytest.fixture
def nodes(pack):
    return {c.GET_SCHEMA().node_id.removeprefix("LTX2Chain_"): c for c in node_classes(pack)}


def resolved(pack, schedule_input, n=5, total=481):
    plan = importlib.import_module(pack.__name__ + ".ltx2.chain.plan").make_plan(total_frames=total, fps=24, clip_frames=121, tail_frames=25)
    return [schedule_input.schedule.resolve(i, plan) for i in range(n)]


def test_builders_compose(pack, nodes):
    (s,) = nodes["Schedule"].execute(schedule='{"prompt": "a fox"}').args
    (s,) = nodes["PromptKeyframe"].execute(unit="seconds", at=9.0, text="the fox runs", schedule=s).args
    (s,) = nodes["ChunkValues"].execute(seed="42, 7", seed_mode="fixed", handoff_strength="1, 0.8", tail_noise="0", negative_prompt="blur", schedule=s).args
    (s,) = nodes["LoraRamp"].execute(lora_name="style.safetensors", mode="ramp", scales="", start_chunk=1, start_scale=0.0, end_chunk=3, end_scale=1.0, schedule=s).args
    image = torch.rand(2, 32, 32, 3)
    (s,) = nodes["Anchor"].execute(image=image, unit="chunk", at=0, position="first", strength=1.0, schedule=s).args
    params = resolved(pack, s)
    assert [p.prompt for p in params] == ["a fox", "a fox", "the fox runs", "the fox runs", "the fox runs"]
    assert [p.seed for p in params] == [42, 7, 7, 7, 7]
    assert [p.handoff_strength for p in params] == [1.0, 0.8, 0.8, 0.8, 0.8]
    assert [dict(p.loras)["style.safetensors"] for p in params] == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert params[0].negative_prompt == "blur"
    (anchor,) = params[0].anchors
    assert (anchor.position, anchor.strength) == ("first", 1.0)
    assert torch.equal(s.images[anchor.image], image[:1])


def test_builders_do_not_mutate_their_input(nodes):
    (a,) = nodes["Schedule"].execute(schedule='{"prompt": "x"}').args
    before = a.schedule.to_json()
    nodes["PromptKeyframe"].execute(unit="chunk", at=2, text="y", schedule=a)
    assert a.schedule.to_json() == before


def test_bad_values_name_the_field(nodes):
    with pytest.raises(ValueError, match=r"seed: item 1 \('x'\) is not a whole number"):
        nodes["ChunkValues"].execute(seed="1, x", seed_mode="fixed", handoff_strength="1", tail_noise="0", negative_prompt="")
    with pytest.raises(ValueError, match=r"handoff_strength: item 1: 2.0 is out of range"):
        nodes["ChunkValues"].execute(seed="1", seed_mode="fixed", handoff_strength="1, 2", tail_noise="0", negative_prompt="")
    assert nodes["Schedule"].validate_inputs(schedule='{"prompts": [{"text": "a"}]}').startswith("schedule: prompts[0]: give exactly one of")


def test_json_errors_are_not_prefixed_twice(nodes):
    message = nodes["Schedule"].validate_inputs(schedule='{"prompt": ')
    assert message.startswith("schedule: not valid JSON") and "schedule: schedule" not in message
