"""The web editor's model code under Node (tests/web/*.test.mjs): plan math against the Python plan, JSON
round trip, validation against `python -m ltx2 schema`, edits, progress."""

from web_tools import node_modules, run_node


def test_node_unit_tests():
    node_modules()
    done = run_node(None, None, "--test", timeout=300)
    assert "# fail 0" in done.stdout and "# pass " in done.stdout, done.stdout[-3000:]


def test_model_and_view_modules_do_not_import_comfyui():
    from web_tools import ROOT

    modules = sorted((ROOT / "web").glob("*/*.js"))
    assert {m.parent.name for m in modules} == {"model", "view"}
    for module in modules:
        text = module.read_text(encoding="utf-8")
        assert "scripts/app.js" not in text and "scripts/api.js" not in text, module
    # every .js under web/ is loaded by ComfyUI: nothing but shipped code there
    assert not list((ROOT / "web").rglob("*.test.*")) and not (ROOT / "web" / "node_modules").exists()
