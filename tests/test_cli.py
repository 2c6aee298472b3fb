import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ltx2", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_plan_json_shape():
    r = cli("plan", "--frames", "481", "--fps", "24", "--clip-frames", "121", "--tail-frames", "25", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["fps"] == 24 and data["total_frames"] == 481
    assert data["chunks"][0] == {"index": 0, "frames": 121, "start": 0, "keep": [0, 121], "tail_frames": 25, "latent_frames": 16}
    assert data["chunks"][-1]["keep"] == [409, 481]


def test_plan_table_with_schedule(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"prompt": "fox", "prompts": [{"seconds": 9, "text": "fox runs"}], "loras": [{"name": "l", "scale": [0, 1]}]}))
    r = cli("plan", "--seconds", "20", "--schedule", str(path))
    assert r.returncode == 0, r.stderr
    assert "5 chunks of up to 121 frames" in r.stdout
    assert "chunk 2: 'fox runs'" in r.stdout and "lora l x1" in r.stdout


def test_schema_is_json_schema():
    r = cli("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["title"] == "LTX-2 Chain schedule" and "prompts" in schema["properties"]


def test_bad_input_exits_nonzero_naming_the_field(tmp_path):
    r = cli("plan", "--frames", "481", "--clip-frames", "121", "--tail-frames", "121")
    assert r.returncode == 2 and r.stderr == "error: --tail-frames: 121 must be shorter than --clip-frames (121); at most 113\n"
    bad = tmp_path / "bad.json"
    bad.write_text('{"seed": [1, "x"], "prompts": [{"text": "a"}]}')
    r = cli("plan", "--frames", "100", "--schedule", str(bad))
    assert r.returncode == 2
    assert "error: --schedule: seed: item 1:" in r.stderr and "error: --schedule: prompts[0]: give exactly one of" in r.stderr
    r = cli("plan", "--frames", "100", "--schedule", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "error: --schedule: cannot read" in r.stderr
