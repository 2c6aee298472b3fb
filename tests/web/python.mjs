// Runs the Python engine from the Node tests: the CLI (`python -m ltx2 ...`) and a batch oracle that
// evaluates many plans in one process. PYTHON names the interpreter (pytest passes sys.executable).
import { execFileSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = process.env.PYTHON || "python3";

export function python(args, input) {
  return execFileSync(PYTHON, args, { cwd: REPO, input, encoding: "utf8", maxBuffer: 64 << 20 });
}

/** `python -m ltx2 <args>` parsed as JSON. */
export const cli = (...args) => JSON.parse(python(["-m", "ltx2", ...args]));

/** The batch oracle (tests/web/oracle.py) on a list of requests. */
export const oracle = (requests) => JSON.parse(python([resolve(REPO, "tests/web/oracle.py")], JSON.stringify(requests)));
