"""Example workflows: the UI-format ones reference real nodes with the right widgets, and every API-format
one runs end to end through the node classes (as ComfyUI's executor would call them)."""

import inspect
import json
from pathlib import Path

import pytest
from test_pack import node_classes

EXAMPLES = Path(__file__).resolve().parents[1] / "example_workflows"
UI = sorted(EXAMPLES.glob("*.json"))
API = sorted((EXAMPLES / "api").glob("*.json"))


def schemas(pack):
    return {s.node_id: (c, s) for c, s in ((c, c.GET_SCHEMA()) for c in node_classes(pack))}


def test_every_ui_workflow_has_an_api_twin():
    assert UI and {p.name for p in UI} == {p.name for p in API}


@pytest.mark.parametrize("path", UI, ids=lambda p: p.name)
def test_ui_workflow_matches_the_node_schemas(pack, path):
    known = schemas(pack)
    workflow = json.loads(path.read_text())
    assert workflow["version"] == 0.4
    for node in workflow["nodes"]:
        if not node["type"].startswith("LTX2Chain_"):
            continue
        _, schema = known[node["type"]]
        linked = {i["name"] for i in node.get("inputs", []) if i.get("link") is not None}
        widgets = [i.id for i in schema.inputs if i.io_type in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO") and i.id not in linked]
        assert len(node["widgets_values"]) == len(widgets), (node["type"], widgets)


def run_api_workflow(pack, prompt: dict) -> dict:
    """Execute an API-format prompt with the pack's node classes: inputs are literals or [node, output]."""
    known = schemas(pack)
    results: dict[str, tuple] = {}

    def evaluate(node_id: str) -> tuple:
        if node_id not in results:
            spec = prompt[node_id]
            cls, schema = known[spec["class_type"]]
            kwargs = {k: evaluate(v[0])[v[1]] if isinstance(v, list) else v for k, v in spec["inputs"].items()}
            if hasattr(cls, "validate_inputs"):  # like ComfyUI: only the inputs it declares, linked ones as None
                declared = inspect.signature(cls.validate_inputs).parameters
                wanted = {k: (None if isinstance(v, list) else v) for k, v in spec["inputs"].items() if k in declared}
                verdict = cls.validate_inputs(**wanted)
                assert verdict is True, verdict
            results[node_id] = cls.execute(**kwargs).args
        return results[node_id]

    for node_id in prompt:
        evaluate(node_id)
    return results


@pytest.mark.parametrize("path", API, ids=lambda p: p.name)
def test_api_workflow_runs(pack, path):
    prompt = json.loads(path.read_text())
    results = run_api_workflow(pack, prompt)
    assert set(results) == set(prompt)
    assert all(out for out in results.values())


def test_plan_preview_example_output(pack):
    prompt = json.loads((EXAMPLES / "api" / "ltx2chain_plan_preview.json").read_text())
    table, plan_json = run_api_workflow(pack, prompt)["1"]
    data = json.loads(plan_json)
    assert data["total_frames"] == 480  # 20 s at 24 fps
    prompts = [c["params"]["prompt"] for c in data["chunks"]]
    assert prompts[0].startswith("A red fox") and prompts[-1].startswith("The fox leaps")
