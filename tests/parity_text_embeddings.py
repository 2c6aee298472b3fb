"""Hidden states -> features -> connectors -> (19B) caption projections, against the reference."""

import torch
from reference import path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.text_encoder import load_feature_extractor, projection_file
from ltx2.loading.transformer import load_text_connectors, load_transformer
from ltx2.text.encoder import TextConditioning


def text_encoder_file(case):
    """The split layout's text-encoder file (LTX-2.5: Gemma 4 + the text projection); None for a single file."""
    relative = case.meta.get("checkpoint_files", {}).get("text_encoder")
    return path(relative) if relative else None


def check_text_path(case, features: TextConditioning) -> None:
    """Everything after the feature extractor: features, contexts, context mask, 19B projections."""
    case.check("features_video", features.video)
    case.check("features_audio", features.audio)
    ckpt = CheckpointFile(case.checkpoint)
    video_connector, audio_connector = load_text_connectors(ckpt, dtype=torch.float32)
    with torch.no_grad():
        video, audio = video_connector(features.video, features.mask), audio_connector(features.audio, features.mask)
    case.check("video_context", video)
    case.check("audio_context", audio)
    case.check("context_mask", torch.ones_like(features.mask))
    if "video_context_projected" in case.expected:  # 19B: the DiT projects the contexts itself
        dit = load_transformer(ckpt, dtype=torch.float32)
        with torch.no_grad():
            case.check("video_context_projected", dit.caption_projection(video))
            case.check("audio_context_projected", dit.audio_caption_projection(audio))


def run(case):
    hidden, mask = case.inputs["hidden_states"], case.inputs["attention_mask"]
    ckpt = CheckpointFile(case.checkpoint)
    projection = projection_file(ckpt, text_encoder_file(case))
    extractor = load_feature_extractor(ckpt, hidden.shape[2], hidden.shape[3], projection=projection, dtype=torch.float32)
    with torch.no_grad():
        video, audio = extractor(hidden, mask)
    check_text_path(case, TextConditioning(video, audio, mask, "features"))
