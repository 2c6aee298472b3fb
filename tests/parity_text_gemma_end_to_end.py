"""Token ids -> HF Gemma hidden states (Gemma 3 folder; LTX-2.5: the packed Gemma 4 file) -> the LTX text path,
against the reference."""

import torch
from parity_text_embeddings import check_text_path
from reference import path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import load_gemma_text_model
from ltx2.loading.text_encoder import check_gemma_version, load_feature_extractor, projection_file
from ltx2.text.encoder import TextEncoder
from ltx2.text.gemma import GemmaEncoder


def run(case):
    ids, mask = case.inputs["input_ids"], case.inputs["attention_mask"]
    source = path(case.args["gemma_dir"] if "gemma_dir" in case.args else case.args["text_encoder_file"])
    ckpt = CheckpointFile(case.checkpoint)
    check_gemma_version(ckpt, source)  # the pair the reference loaded must pass the version check
    gemma = GemmaEncoder(load_gemma_text_model(source, dtype=torch.float32))
    case.check("hidden_states", gemma.hidden_states(ids, mask), where=(mask == 1)[:, :, None, None])
    extractor = load_feature_extractor(ckpt, gemma.hidden_size, gemma.num_hidden_states, projection=projection_file(ckpt, source), dtype=torch.float32)
    check_text_path(case, TextEncoder(gemma, extractor).features(ids, mask))
