"""Token ids -> HF Gemma 3 hidden states -> the LTX text path, against the reference."""

import torch
from parity_text_embeddings import check_text_path
from reference import path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import load_gemma_text_model
from ltx2.loading.text_encoder import load_feature_extractor
from ltx2.text.encoder import TextEncoder
from ltx2.text.gemma import GemmaEncoder


def run(case):
    ids, mask = case.inputs["input_ids"], case.inputs["attention_mask"]
    gemma = GemmaEncoder(load_gemma_text_model(path(case.args["gemma_dir"]), dtype=torch.float32))
    case.check("hidden_states", gemma.hidden_states(ids, mask), where=(mask == 1)[:, :, None, None])
    extractor = load_feature_extractor(CheckpointFile(case.checkpoint), gemma.hidden_size, gemma.num_hidden_states, dtype=torch.float32)
    check_text_path(case, TextEncoder(gemma, extractor).features(ids, mask))
