"""ComfyUI nodes of LTX-2 Chain: thin adapters over the ``ltx2`` engine."""

from . import clip_nodes, media_nodes, model_nodes, sampler, schedule_nodes, seam_nodes
from .host import ComfyExtension
from .plan_preview import PlanPreview

NODES = [*model_nodes.NODES, sampler.ChainSampler, PlanPreview, *schedule_nodes.NODES, *clip_nodes.NODES, *media_nodes.NODES, *seam_nodes.NODES]


class LTX2ChainExtension(ComfyExtension):
    async def get_node_list(self):
        return list(NODES)


async def comfy_entrypoint() -> LTX2ChainExtension:
    return LTX2ChainExtension()
