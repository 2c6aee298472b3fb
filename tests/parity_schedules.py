import torch

from ltx2.sampling.schedules import distilled_sigmas, shifted_sigmas


def run(case):
    case.check("distilled_stage1", distilled_sigmas(1))
    case.check("distilled_stage2", distilled_sigmas(2))
    for name, entry in case.args["entries"].items():
        out = shifted_sigmas(entry["steps"], tokens=entry["tokens"])
        assert out.dtype == torch.float32
        case.check(name, out)
