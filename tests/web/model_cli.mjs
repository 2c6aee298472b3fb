// Drives the editor model from Python (tests/test_web_roundtrip.py): reads {"cases": [...]} or
// {"reload": [...]} as JSON on stdin and prints the answers as JSON.
//   case: {schedule: text, plan: widget values, edits: [[name, ...args], ...]}
//     -> {plan: plan dict, json: the edited schedule's JSON, params: every chunk resolved, warnings}
//     edits that take the plan (see PLAN_EDITS) get it as their second argument
//   reload: [text, ...] -> [the JSON the editor writes after reading text, ...]
import * as edit from "../../web/model/edit.js";
import { planFromWidgets, planToDict } from "../../web/model/plan.js";
import { parseSchedule, resolveAll, scheduleToJSON, scheduleWarnings } from "../../web/model/schedule.js";

const PLAN_EDITS = new Set(["addPromptKeyframe", "movePromptKeyframe", "setPromptKeyframePlace", "setLoraScaleAt", "setLoraForm", "addAnchor"]);

function runCase({ schedule, plan: inputs, edits = [] }) {
  const plan = planFromWidgets(inputs);
  let s = parseSchedule(schedule);
  for (const [name, ...args] of edits) {
    if (!(name in edit)) throw new Error(`no edit named ${name}`);
    s = PLAN_EDITS.has(name) ? edit[name](s, plan, ...args) : edit[name](s, ...args);
  }
  return { plan: planToDict(plan), json: scheduleToJSON(s), params: resolveAll(s, plan), warnings: scheduleWarnings(s, plan) };
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const answer = request.cases ? request.cases.map(runCase) : request.reload.map((text) => scheduleToJSON(parseSchedule(text)));
process.stdout.write(JSON.stringify(answer));
