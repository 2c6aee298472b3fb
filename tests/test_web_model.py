"""The web editor's model code under Node (tests/web/*.test.mjs): plan math against the Python plan, JSON
round trip, validation against `python -m ltx2 schema`, edits, progress."""

from web_tools import node_modules, run_node


def test_node_unit_tests():
    node_modules()
    done = run_node(None, None, "--test", timeout=300)
    assert "# fail 0" in done.stdout and "# pass " in done.stdout, done.stdout[-3000:]
