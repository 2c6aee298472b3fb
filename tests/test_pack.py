"""The pack loads the way ComfyUI loads it, with no ComfyUI installed, and its nodes are well formed."""

import asyncio
import importlib.util
import json
import sys

import pytest

NODE_PREFIX = "LTX2Chain_"


def node_classes(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    asyncio.run(extension.on_load())
    return asyncio.run(extension.get_node_list())


def test_no_comfyui_here():
    assert importlib.util.find_spec("comfy_api") is None, "these tests check the standalone path"


def test_pack_exports(pack):
    assert pack.WEB_DIRECTORY == "./web"
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS"), "ComfyUI ignores comfy_entrypoint when NODE_CLASS_MAPPINGS exists"
    # ComfyUI owns the top-level module name "nodes": the pack reaches its own only relatively
    assert "nodes" not in sys.modules
    assert pack.__name__ + ".nodes" in sys.modules


def test_the_pack_file_imports_alone_as_pytest_imports_it_from_a_hyphenated_checkout(tmp_path):
    """A checkout named ``ltx2-chain`` is no valid package name: pytest then imports the pack's ``__init__.py`` as a
    lone module (no parent package), which must not fail (every test errored in such a checkout)."""
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("__init__", Path(__file__).parents[1] / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.WEB_DIRECTORY == "./web" and not hasattr(module, "comfy_entrypoint")


def test_every_node_schema_is_valid_prefixed_and_documented(pack):
    classes = node_classes(pack)
    assert classes, "the pack registers no nodes"
    ids = []
    for cls in classes:
        schema = cls.GET_SCHEMA()
        ids.append(schema.node_id)
        assert schema.node_id.startswith(NODE_PREFIX)
        assert schema.category.startswith("LTX-2 Chain")
        assert schema.display_name and schema.description
        for item in [*schema.inputs, *schema.outputs]:
            assert item.tooltip, f"{schema.node_id}.{item.id} has no tooltip"
    assert len(ids) == len(set(ids))


def preview(pack):
    return next(c for c in node_classes(pack) if c.GET_SCHEMA().node_id == NODE_PREFIX + "PlanPreview")


def test_plan_preview_node(pack):
    node = preview(pack)
    schedule = json.dumps({"prompt": "a", "prompts": [{"chunk": 1, "text": "b"}], "seed": [1, 2]})
    out = node.execute(total_frames=481, seconds=0.0, fps=24.0, clip_frames=121, tail_frames=25, max_chunks=200, schedule=schedule)
    table, plan_json = out.args
    data = json.loads(plan_json)
    assert [c["keep"] for c in data["chunks"]] == [[0, 121], [121, 217], [217, 313], [313, 409], [409, 481]]
    assert [c["params"]["prompt"] for c in data["chunks"]] == ["a", "b", "b", "b", "b"]
    assert [c["params"]["seed"] for c in data["chunks"]] == [1, 2, 2, 2, 2]
    assert "[409, 481)" in table and out.ui == {"text": [table]}
    # seconds override frames
    out = node.execute(total_frames=1, seconds=10.0, fps=25.0, clip_frames=121, tail_frames=25, max_chunks=200, schedule="")
    assert json.loads(out.args[1])["total_frames"] == 250


def test_plan_preview_rejects_bad_input_with_the_field_name(pack):
    node = preview(pack)
    assert node.validate_inputs(schedule='{"sed": 1}').startswith("schedule: sed: unknown field")
    assert node.validate_inputs(schedule=None) is True  # linked input: checked at execution
    assert node.validate_inputs(schedule="") is True
    with pytest.raises(ValueError, match="tail_frames: 121 must be shorter than clip_frames"):
        node.execute(total_frames=481, seconds=0.0, fps=24.0, clip_frames=121, tail_frames=121, max_chunks=200, schedule="")
