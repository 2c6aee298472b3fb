"""Bad command-line input: each refused before any model loads or anything is written, with one ``error:`` line
naming the flag the user typed, exit status 2 and no traceback (``--debug`` adds it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltx2 import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO = ["render", "--demo", "--frames", "25"]


@pytest.fixture
def place(tmp_path):
    """A folder to render into (``out`` holds only what a run writes) and some inputs beside it."""
    (tmp_path / "out").mkdir()
    (tmp_path / "model.safetensors").write_bytes(b"not read before the inputs are checked")
    (tmp_path / "gemma").mkdir()
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "anchored.json").write_text(json.dumps({"anchors": [{"chunk": 1, "image": str(tmp_path / "nope.png")}]}))
    return tmp_path


def run(argv: list[str]) -> int:
    """``main``'s exit status (argparse's own complaints exit instead of returning)."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


def model(p):
    return ["render", "--checkpoint", str(p / "model.safetensors"), "--gemma", str(p / "gemma"), "--frames", "25"]


def memory(p):
    return ["memory", "--checkpoint", str(p / "model.safetensors")]


# (argv given the place, the flag the one error line names)
CASES = {
    "device bogus": (lambda p: [*DEMO, "--device", "bogus"], "--device"),
    "steps -1": (lambda p: [*DEMO, "--steps", "-1"], "--steps"),
    "steps 0": (lambda p: [*DEMO, "--steps", "0"], "--steps"),
    "attention on the cpu": (lambda p: [*DEMO, "--attention", "flash-attn"], "--attention"),
    "out empty": (lambda p: ["render", "--demo", "--frames", "25", "--out", ""], "--out"),
    "out a folder": (lambda p: [*DEMO, "--out", str(p / "out")], "--out"),
    "out a device": (lambda p: [*DEMO, "--out", os.devnull], "--out"),
    "out under a file": (lambda p: [*DEMO, "--out", str(p / "a_file" / "x.mp4")], "--out"),
    "run-dir a file": (lambda p: [*DEMO, "--run-dir", str(p / "a_file")], "--run-dir"),
    "fused strength": (lambda p: [*model(p), "--fused-lora", "x:abc"], "--fused-lora"),
    "fused missing": (lambda p: [*model(p), "--fused-lora", str(p / "nope.safetensors")], "--fused-lora"),
    "checkpoint missing": (lambda p: ["render", "--checkpoint", str(p / "nope"), "--gemma", str(p / "gemma"), "--frames", "25"], "--checkpoint"),
    "gemma missing": (lambda p: ["render", "--checkpoint", str(p / "model.safetensors"), "--gemma", str(p / "nope"), "--frames", "25"], "--gemma"),
    "tokenizer missing": (lambda p: [*model(p), "--tokenizer", str(p / "nope")], "--tokenizer"),
    "lora missing": (lambda p: [*model(p), "--lora", f"cam={p / 'nope.safetensors'}"], "--lora"),
    "lora no name": (lambda p: [*model(p), "--lora", "cam"], "--lora"),
    "upsampler a folder": (lambda p: [*model(p), "--upsampler", str(p / "gemma")], "--upsampler"),
    "vae missing": (lambda p: [*model(p), "--vae", str(p / "nope")], "--vae"),
    "upsampler with demo": (lambda p: [*DEMO, "--upsampler", str(p / "a_file")], "--upsampler"),
    "fused with demo": (lambda p: [*DEMO, "--fused-lora", str(p / "a_file")], "--fused-lora"),
    "vram with demo": (lambda p: [*DEMO, "--vram", "4"], "--vram"),
    "neither model": (lambda p: ["render", "--frames", "25"], "--checkpoint"),
    "image missing": (lambda p: [*DEMO, "--image", str(p / "nope.png")], "--image"),
    "anchor missing": (lambda p: [*DEMO, "--frames", "50", "--clip-frames", "33", "--tail-frames", "9", "--schedule", str(p / "anchored.json")], "--schedule"),
    "schedule empty": (lambda p: [*DEMO, "--schedule", str(p / "empty.json")], "--schedule"),
    "anchor-continuations without image": (lambda p: [*DEMO, "--anchor-continuations", "0.5"], "--anchor-continuations"),
    "width 0": (lambda p: [*DEMO, "--width", "0"], "--width"),
    "width huge": (lambda p: [*DEMO, "--width", "100000"], "--width"),
    "height not 32k": (lambda p: [*DEMO, "--height", "100"], "--height"),
    "crf -1": (lambda p: [*DEMO, "--crf", "-1"], "--crf"),
    "crf 100": (lambda p: [*DEMO, "--crf", "100"], "--crf"),
    "fps tiny": (lambda p: [*DEMO, "--fps", "0.0001"], "--fps"),
    "frames 0": (lambda p: ["render", "--demo", "--frames", "0"], "--frames"),
    "tail too long": (lambda p: [*DEMO, "--tail-frames", "121"], "--tail-frames"),
    "seed negative": (lambda p: [*DEMO, "--seed", "-1"], "--seed"),
    "drift": (lambda p: [*DEMO, "--drift", "2"], "--drift"),
    "tile": (lambda p: [*DEMO, "--tile", "512:abc"], "--tile"),
    "steps not a number": (lambda p: [*DEMO, "--steps", "x"], "--steps"),
    "plan fps huge exponent": (lambda p: ["plan", "--frames", "25", "--fps", "1e99999999"], "--fps"),
    "plan max-chunks": (lambda p: ["plan", "--frames", "100000", "--max-chunks", "3"], "--max-chunks"),
    "schema indent": (lambda p: ["schema", "--indent", "99"], "--indent"),
    "memory width 0": (lambda p: [*memory(p), "--width", "0"], "--width"),
    "memory width huge": (lambda p: [*memory(p), "--width", "100000"], "--width"),
    "memory height negative": (lambda p: [*memory(p), "--height", "-512"], "--height"),
    "memory height not 32k": (lambda p: [*memory(p), "--height", "100"], "--height"),
    "memory frames 0": (lambda p: [*memory(p), "--frames", "0"], "--frames"),
    "memory frames not 8k+1": (lambda p: [*memory(p), "--frames", "120"], "--frames"),
    "memory frames huge": (lambda p: [*memory(p), "--frames", "100001"], "--frames"),
    "memory tail negative": (lambda p: [*memory(p), "--tail-frames", "-1"], "--tail-frames"),
    "memory tail not 8k+1": (lambda p: [*memory(p), "--tail-frames", "24"], "--tail-frames"),
    "memory tail too long": (lambda p: [*memory(p), "--frames", "33", "--tail-frames", "33"], "--tail-frames"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_error_line_naming_the_flag(name, place, capsys):
    argv, flag = CASES[name]
    argv = argv(place)
    if "--out" not in argv and argv[0] == "render":
        argv += ["--out", str(place / "out" / "video.mp4")]
    status = run(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and flag in lines[0], err
    assert "Traceback" not in err and "total_frames" not in err
    assert list((place / "out").iterdir()) == [], "nothing is written before the inputs are checked"


def test_device_cuda_without_cuda(place, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli.main([*DEMO, "--device", "cuda", "--out", str(place / "out" / "v.mp4")]) == 2
    assert capsys.readouterr().err.startswith("error: --device: cuda: torch ")


def test_every_problem_is_listed_at_once(place, capsys):
    assert cli.main([*DEMO, "--width", "0", "--crf", "100", "--steps", "0", "--out", str(place / "out")]) == 2
    assert [line.split(":")[1].strip() for line in capsys.readouterr().err.splitlines()] == ["--out", "--width", "--steps", "--crf"]


def test_a_runtime_failure_is_one_line_and_status_1_the_traceback_only_with_debug(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("the encoder died")

    monkeypatch.setitem(cli._COMMANDS, "plan", boom)
    assert cli.main(["plan", "--frames", "25"]) == 1
    assert capsys.readouterr().err == "error: the encoder died\n"
    assert cli.main(["plan", "--frames", "25", "--debug"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("error: the encoder died\n")


def test_a_bad_model_file_is_an_input_error(monkeypatch, capsys):
    def bad_file(args):
        raise ValueError("/m/x.safetensors: not a safetensors file (looks like HTML)")

    monkeypatch.setitem(cli._COMMANDS, "plan", bad_file)
    assert cli.main(["plan", "--frames", "25"]) == 2
    assert capsys.readouterr().err == "error: /m/x.safetensors: not a safetensors file (looks like HTML)\n"


def test_interrupt_during_start_up_is_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_check_render", interrupted)
    assert cli.main([*DEMO, "--out", "x.mp4"]) == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_input_errors_show_the_traceback_with_debug(capsys):
    assert cli.main(["plan", "--frames", "0", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("error: --frames: 0 is out of range; use 1 to 2000000 frames\n")


def test_plan_into_a_closed_pipe_exits_quietly():
    p = subprocess.Popen([sys.executable, "-m", "ltx2", "plan", "--frames", "100000", "--max-chunks", "2000", "--json"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert p.stdout.read(10) == b'{\n  "fps":'
    p.stdout.close()  # as `| head` does
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and err == ""


def test_plan_schema_and_help_import_no_torch():
    script = (
        "import sys\n"
        "from ltx2.cli import main\n"
        "for argv in (['plan', '--seconds', '5'], ['plan', '--frames', '0'], ['schema'], ['--help'], ['render', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    assert 'torch' not in sys.modules, argv\n"
        "print('no torch', file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stderr.endswith("no torch\n"), r.stderr


def test_help_describes_every_option():
    parser = cli._parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    bare = [f"{name} {a.option_strings[0]}" for name, sub in commands.items() for a in sub._actions if a.option_strings and not a.help]
    assert bare == []
