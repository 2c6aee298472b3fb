"""Runner for ``transformer_forward_lora``: the tiny LoRA fused at ``args.strength`` (float32 merge).

Our merge is float32, so it is held to ``*_fp32_merge`` at 1e-5 and to the reference's bf16-fused outputs
at their stored 1e-2 (README section 5).
"""

from __future__ import annotations

import torch
from parity_transformer_forward import inputs
from reference import path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.lora import read_lora
from ltx2.loading.transformer import load_transformer


def run(case) -> None:
    lora = path(case.args["lora_file"])
    assert len(read_lora(lora)) == case.args["num_pairs"] + len(case.args["ignored_pairs"])
    model = load_transformer(CheckpointFile(case.checkpoint), dtype=torch.float32, loras=[(lora, case.args["strength"])])
    i = case.inputs
    with torch.no_grad():
        v, a = model(*inputs(case, i["video_positions"], i["audio_positions"]))
    for suffix in ("", "_fp32_merge"):
        case.check(f"video_velocity{suffix}", v)
        case.check(f"audio_velocity{suffix}", a)
