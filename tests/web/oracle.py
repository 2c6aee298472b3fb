"""Answers the Node tests' questions with the Python engine, many per process: reads a JSON list of
requests on stdin, prints a JSON list of answers.

Requests: {"plan": make_plan kwargs (fps as a number goes through float like the node widget)}
-> the plan dict plus chunk_for_frame of every frame 0..total+10, or {"error": field};
{"frames_for_seconds": [seconds, fps]} -> frame.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ltx2.chain.plan import PlanError, as_fps, frames_for_seconds, make_plan  # noqa: E402


def answer(request: dict):
    if "plan" in request:
        try:
            plan = make_plan(**request["plan"])
        except PlanError as e:
            return {"error": e.problems[0][0]}
        data = plan.to_dict()
        data["chunk_for_frame"] = [plan.chunk_for_frame(f) for f in range(plan.total_frames + 10)]
        return data
    seconds, fps = request["frames_for_seconds"]
    return frames_for_seconds(seconds, as_fps(fps))


print(json.dumps([answer(r) for r in json.load(sys.stdin)]))
