"""Runner for ``transformer_forward_lora``: the tiny LoRA fused at ``args.strength`` (float32 merge).

Our merge is float32, so it is held to ``*_fp32_merge`` at 1e-5 and to the reference's bf16-fused outputs
at their stored 1e-2 (README section 5).
"""

from __future__ import annotations

import torch

from ltx2.loading.lora import fuse_lora, read_lora
from parity_transformer_forward import inputs, load
from reference import path


def run(case) -> None:
    model = load(case)
    fused = fuse_lora(model, read_lora(path(case.args["lora_file"])), case.args["strength"])
    assert fused == case.args["num_pairs"], f"fused {fused} of {case.args['num_pairs']} LoRA pairs"
    i = case.inputs
    with torch.no_grad():
        v, a = model(*inputs(case, i["video_positions"], i["audio_positions"]))
    for suffix in ("", "_fp32_merge"):
        case.check(f"video_velocity{suffix}", v)
        case.check(f"audio_velocity{suffix}", a)
