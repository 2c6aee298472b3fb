// Drives the real ComfyUI frontend (served by tests/frontend_server.py) in headless Chromium with
// playwright-core: loads each example workflow, measures the pack's editor and progress panel on their nodes,
// edits the schedule with the keyboard and the mouse (ruler drag, guidance, undo, more columns, anchors from the
// input-folder picker), queues a (stand-in) run and saves screenshots. Reads a JSON request on
// stdin: { url, chromium, flags, shots, workflows: { name: workflow } }; prints the measurements as JSON.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const request = JSON.parse(readFileSync(0, "utf8"));

/** Drives the editor of node `id` with the mouse and keyboard; returns the saved schedule after each step. */
async function editorFeatures(page, id, settle) {
  const out = {};
  const saved = () => page.evaluate((n) => window.app.graph.getNodeById(n).widgets.find((w) => w.name === "schedule").value, id);
  // the editor's top (its ruler and timeline) in view at 100 %, tagged for the locators below
  await page.evaluate((n) => {
    const node = window.app.graph.getNodeById(n);
    node.ltx2Editor.element.dataset.testNode = String(n);
    window.ltx2Frame([n], 1);
  }, id);
  await settle();
  const editor = page.locator(`[data-test-node="${id}"]`);
  // pans the canvas (the editor does not scroll the page) until `locator` is in view
  const reveal = async (locator) => {
    await locator.evaluate((el) => {
      const canvas = window.app.canvas;
      const r = el.getBoundingClientRect();
      if (r.top >= 120 && r.bottom <= innerHeight - 40) return;
      canvas.ds.offset[1] += (300 - r.top) / canvas.ds.scale;
      canvas.setDirty(true, true);
    });
    await settle();
    return locator;
  };

  // the ruler: its labels, inside the timeline
  out.ruler = await (await reveal(editor.locator(".ltx2-timeline"))).evaluate((timeline) => {
    const box = timeline.getBoundingClientRect();
    const labels = [...timeline.querySelectorAll(".ltx2-tick-label")].map((el) => {
      const r = el.getBoundingClientRect();
      return { text: el.textContent, left: r.left - box.left, right: r.right - box.left, top: r.top - box.top, bottom: r.bottom - box.top };
    });
    return { width: box.width, height: box.height, labels, ticks: timeline.querySelectorAll(".ltx2-tick").length };
  });

  // drag the first prompt keyframe (at 15 s) to 20 s on the ruler
  const key = editor.locator(".ltx2-key").first();
  const from = await key.boundingBox();
  const timeline = await editor.locator(".ltx2-timeline").boundingBox();
  const span = await page.evaluate((n) => {
    const plan = window.app.graph.getNodeById(n).ltx2Editor.state().plan;
    return { frames: Math.max(plan.total_frames, plan.chunks.at(-1).end), fps: Number(plan.fps.n) / Number(plan.fps.d) };
  }, id);
  const x = timeline.x + ((20 * span.fps) / span.frames) * timeline.width;
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(x, from.y + from.height / 2, { steps: 6 });
  out.dragLabel = await editor.locator(".ltx2-drag-time").textContent().catch(() => null);
  await page.mouse.up();
  await settle();
  out.dragged = await saved();

  // per-chunk guidance: chunk 1 at 4.5 (Enter commits)
  const cell = (chunk, column) => editor.locator(`tr[data-chunk="${chunk}"] td.ltx2-${column} input`);
  await (await reveal(cell(1, "guidance"))).fill("4.5");
  await cell(1, "guidance").press("Enter");
  await settle();
  out.guidance = await saved();
  // another edit, undone with Ctrl+Z (the focus stays in the editor after Enter)
  await (await reveal(cell(4, "guidance"))).fill("9");
  await cell(4, "guidance").press("Enter");
  await settle();
  out.beforeUndo = await saved();
  await page.keyboard.press("Control+z");
  await settle();
  out.undoKey = await saved();
  // and one undone with the button
  await (await reveal(cell(3, "handoff"))).fill("0.5");
  await cell(3, "handoff").press("Enter");
  await settle();
  await (await reveal(editor.locator("input.ltx2-undo"))).click();
  await settle();
  out.undoButton = await saved();

  // the "more columns" section: chunk 2's denoise; the column stays once it is set
  out.columnsBefore = await editor.locator(".ltx2-table th").allTextContents();
  await (await reveal(editor.locator("button.ltx2-more"))).click();
  await (await reveal(cell(2, "denoise"))).fill("0.6");
  await cell(2, "denoise").press("Enter");
  await settle();
  out.denoise = await saved();
  await (await reveal(editor.locator("button.ltx2-more"))).click();
  out.columnsAfter = await editor.locator(".ltx2-table th").allTextContents();

  // anchors from the picker: harbour.png on chunk 3's last frame (chunk chosen on the timeline) at strength 0.6
  // (typed, Enter), night.png on chunk 1's first frame, then night.png removed
  const pick = async (chunk, position, image, shot) => {
    await (await reveal(editor.locator(`.ltx2-chunk[data-index="${chunk}"]`))).click();
    await (await reveal(editor.locator(".ltx2-anchors select").nth(1))).selectOption(position);
    await (await reveal(editor.locator("button.ltx2-pick-image"))).click();
    const button = editor.locator(`.ltx2-picker button[data-image="${image}"]`);
    await button.locator("img").evaluate((img) => img.decode());
    if (shot) {
      // every thumbnail decoded before they are measured (a loaded machine serves them one by one)
      await editor.locator(".ltx2-picker img").evaluateAll((imgs) => Promise.all(imgs.map((img) => img.decode())));
      out.picker = await editor.locator(".ltx2-picker").evaluate((el) => ({
        images: [...el.querySelectorAll("button")].map((b) => ({ name: b.dataset.image, loaded: b.querySelector("img").naturalWidth > 0 })),
      }));
      await reveal(button);
      await page.screenshot({ path: join(request.shots, "anchor_picker.png") });
    }
    await (await reveal(button)).click();
    await settle();
  };
  await pick(3, "last", "harbour.png", true);
  out.anchor = await saved();
  const strength = await reveal(editor.locator('.ltx2-anchor-row[data-anchor="0"] input.ltx2-anchor-strength'));
  await strength.fill("0.6");
  await strength.press("Enter");
  await settle();
  out.strength = await saved();
  await pick(1, "first", "night.png", false);
  out.twoAnchors = await saved();
  await (await reveal(editor.locator('.ltx2-anchor-row[data-anchor="1"] button.ltx2-remove-anchor'))).click();
  await settle();
  out.removed = await saved();
  await editor.locator(".ltx2-anchor-row img").evaluateAll((imgs) => Promise.all(imgs.map((img) => img.decode())));
  out.anchorShown = await editor.evaluate((el) => ({
    rows: [...el.querySelectorAll(".ltx2-anchor-row")].map((row) => ({ text: row.innerText, loaded: (row.querySelector("img")?.naturalWidth ?? 0) > 0 })),
    onTimeline: el.querySelectorAll(".ltx2-timeline .ltx2-anchor").length,
    onRuler: el.querySelectorAll(".ltx2-ruler-anchor").length,
  }));
  const { output } = await page.evaluate(() => window.app.graphToPrompt());
  out.prompt = output[String(id)]?.inputs.schedule ?? null;
  // the whole editor in view again: nothing of it outside the node
  await editor.locator(".ltx2-timeline").scrollIntoViewIfNeeded();
  await page.evaluate((n) => window.ltx2Frame([n], 0.75), id);
  await settle();
  out.measured = (await page.evaluate(() => window.ltx2Measure()))[id];
  return out;
}
const result = { errors: [], workflows: {}, loadedPrompts: {} };
const browser = await chromium.launch({ executablePath: request.chromium, args: request.flags });
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on("pageerror", (e) => result.errors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && /ltx2|chain_timeline|plan_preview|timeline_editor|progress_panel/i.test(m.text())) result.errors.push(`console: ${m.text()}`);
  });
  // no network here: requests that leave the test server fail at once instead of hanging
  await page.route((url) => url.origin !== new URL(request.url).origin, (route) => route.abort());
  await page.goto(request.url);
  await page.waitForFunction(() => window.app?.graph && window.app?.canvas && window.comfyAPI, null, { timeout: 60_000 });
  result.version = await page.evaluate(() => window.__COMFYUI_FRONTEND_VERSION__ ?? null);
  await page.evaluate(() => {
    // the measurements, in the page: our DOM widgets against their node's box on the screen
    window.ltx2Measure = () => {
      const app = window.app;
      const canvas = app.canvas.canvas.getBoundingClientRect();
      const title = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
      const toScreen = (x, y) => {
        const [cx, cy] = app.canvas.ds.convertOffsetToCanvas([x, y]);
        return [canvas.left + cx, canvas.top + cy];
      };
      const box = (el) => {
        const r = el.getBoundingClientRect();
        return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
      };
      const strayText = (el) => {
        const found = [];
        const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) if (/^(null|undefined|NaN|\[object \w+\])$/.test(n.textContent.trim())) found.push(n.textContent);
        return found;
      };
      const nodes = {};
      for (const node of app.graph.nodes) {
        const preview = node.widgets?.find((w) => w.name === "video-preview")?.element; // the frontend's own, after a run
        const parts = [["editor", node.ltx2Editor?.element], ["progress", node.ltx2Progress?.element], ["plan", node.ltx2PlanView], ["preview", preview]].filter(([, el]) => el);
        if (!parts.length) continue;
        const [left, top] = toScreen(node.pos[0], node.pos[1] - title);
        const [right, bottom] = toScreen(node.pos[0] + node.size[0], node.pos[1] + node.size[1]);
        const entry = { type: node.type, size: [...node.size], node: { left, top, right, bottom } };
        // the face: the canvas widgets shown (not our DOM ones), the advanced toggle's label, the greyed ones
        const canvasWidgets = (node.widgets ?? []).filter((w) => !w.element);
        entry.face = {
          shown: canvasWidgets.filter((w) => !w.hidden).map((w) => w.name),
          toggle: node.widgets?.find((w) => w.name === "ltx2_advanced")?.label ?? null,
          disabled: canvasWidgets.filter((w) => w.disabled).map((w) => w.name),
        };
        for (const [name, el] of parts) {
          const visible = el.isConnected && getComputedStyle(el).display !== "none" && el.getClientRects().length > 0;
          entry[name] = { visible, box: box(el), scrollHeight: el.scrollHeight, clientHeight: el.clientHeight, text: el.innerText, stray: strayText(el), ...(name === "preview" ? { html: el.innerHTML.slice(0, 500) } : {}) };
        }
        const timeline = node.ltx2Editor?.element.querySelector(".ltx2-timeline");
        if (timeline) entry.timeline = { box: box(timeline), height: timeline.offsetHeight, width: timeline.offsetWidth, chunks: timeline.querySelectorAll(".ltx2-chunk").length, keys: timeline.querySelectorAll(".ltx2-key").length };
        if (node.ltx2Editor) {
          const state = node.ltx2Editor.state();
          entry.editorState = { error: state.error, chunks: state.plan?.chunks.length ?? null, linked: state.linked ?? false };
          entry.summary = node.ltx2Editor.element.querySelector(".ltx2-summary")?.innerText ?? null;
          entry.notice = node.ltx2Editor.element.querySelector(".ltx2-linked")?.innerText ?? null;
        }
        nodes[node.id] = entry;
      }
      return nodes;
    };
    // the view: the given nodes (all by default) as large as they fit, under the top bar, right of the side bar
    window.ltx2Frame = (ids, minScale = 0) => {
      const app = window.app;
      const title = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
      const nodes = app.graph.nodes.filter((n) => !ids || ids.map(String).includes(String(n.id)));
      if (!nodes.length) throw new Error(`no nodes ${ids} to frame`);
      const x0 = Math.min(...nodes.map((n) => n.pos[0])), y0 = Math.min(...nodes.map((n) => n.pos[1] - title));
      const x1 = Math.max(...nodes.map((n) => n.pos[0] + n.size[0])), y1 = Math.max(...nodes.map((n) => n.pos[1] + n.size[1]));
      const canvas = app.canvas.canvas.getBoundingClientRect();
      const [left, top] = [90 - canvas.left, 110 - canvas.top];
      const room = canvas.height - top - 20;
      const scale = Math.max(minScale, Math.min(1, (canvas.width - left - 20) / (x1 - x0), room / (y1 - y0)));
      app.canvas.ds.scale = scale;
      // too tall at minScale: the bottom of the nodes in view
      app.canvas.ds.offset = [left / scale - x0, (y1 - y0) * scale > room ? (top + room) / scale - y1 : top / scale - y0];
      app.canvas.setDirty(true, true);
    };
  });
  const settle = () => page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 150)))));

  for (const [name, workflow] of Object.entries(request.workflows)) {
    await page.evaluate(async (wf) => window.app.loadGraphData(structuredClone(wf), true, true), workflow);
    await settle(); // the nodes grow to fit their editors on the next frame: frame the view after that
    await page.evaluate(() => window.ltx2Frame());
    await settle();
    result.workflows[name] = await page.evaluate(() => window.ltx2Measure());
    result.loadedPrompts[name] = await page.evaluate(async () => (await window.app.graphToPrompt()).output);
    await page.screenshot({ path: join(request.shots, `${name}.png`) });
  }

  // new nodes at their default size: a Schedule node that feeds nothing and a Chain Sampler
  const fresh = await page.evaluate(() => {
    const made = ["LTX2Chain_Schedule", "LTX2Chain_ChainSampler"].map((type, k) => {
      const node = window.LiteGraph.createNode(type);
      node.pos = [5000 + 700 * k, 0];
      window.app.graph.add(node);
      return node.id;
    });
    return made;
  });
  await settle();
  await page.evaluate((ids) => window.ltx2Frame(ids, 0.75), fresh);
  await settle();
  const measured = await page.evaluate(() => window.ltx2Measure());
  result.fresh = Object.fromEntries(fresh.map((id, k) => [["schedule", "sampler"][k], measured[id]]));
  await page.screenshot({ path: join(request.shots, "new_nodes.png") });

  // the new sampler's advanced settings: unfolded and folded again with the mouse on the canvas toggle
  const sampler = fresh[1];
  const clickToggle = async () => {
    const at = await page.evaluate((id) => {
      const app = window.app;
      const node = app.graph.getNodeById(id);
      const toggle = node.widgets.find((w) => w.name === "ltx2_advanced");
      const y = node.pos[1] + (toggle.y ?? toggle.last_y) + (toggle.computedHeight ?? window.LiteGraph.NODE_WIDGET_HEIGHT) / 2;
      const [cx, cy] = app.canvas.ds.convertOffsetToCanvas([node.pos[0] + node.size[0] / 2, y]);
      const r = app.canvas.canvas.getBoundingClientRect();
      return [r.left + cx, r.top + cy];
    }, sampler);
    await page.mouse.click(at[0], at[1]);
    await settle();
    await settle();
    return (await page.evaluate(() => window.ltx2Measure()))[sampler];
  };
  result.face = { folded: measured[sampler], opened: await clickToggle() };
  await page.screenshot({ path: join(request.shots, "advanced_open.png") });
  result.face.refolded = await clickToggle();

  // an edit with the keyboard on the one-minute example: chunk 2's seed, committed with Enter
  const edit = request.edit;
  await page.evaluate(async (wf) => { await window.app.loadGraphData(structuredClone(wf), true, true); }, request.workflows[edit.workflow]);
  await settle();
  const seed = page.locator(`.ltx2-editor tr[data-chunk="${edit.chunk}"] td.ltx2-seed input`);
  await seed.fill(String(edit.seed));
  await seed.press("Enter");
  const escape = page.locator(`.ltx2-editor tr[data-chunk="${edit.chunk}"] td.ltx2-handoff input`);
  await escape.fill("0.123");
  await escape.press("Escape");
  await settle();
  result.edit = await page.evaluate(async (id) => {
    const node = window.app.graph.getNodeById(id);
    const saved = node.widgets.find((w) => w.name === "schedule").value;
    const { output } = await window.app.graphToPrompt();
    const handoff = document.querySelector(".ltx2-editor td.ltx2-handoff input");
    return { widget: saved, prompt: output[String(id)]?.inputs.schedule ?? null, handoffShown: handoff?.value ?? null };
  }, edit.node);

  // the editor's tools on the same node, each checked in the saved schedule: a keyframe dragged along the ruler,
  // per-chunk guidance, undo (Ctrl+Z and the button), anchors added from the input-folder picker and removed
  result.features = await editorFeatures(page, edit.node, settle);
  await page.screenshot({ path: join(request.shots, "editor_features.png") });

  // a run: the server plays the stand-in chain's progress events through the websocket
  await page.evaluate((id) => { window.ltx2Frame([id], 0.75); return window.app.queuePrompt(0); }, edit.node);
  await page.waitForFunction((id) => /Step 3 of 8/.test(window.app.graph.getNodeById(id)?.ltx2Progress?.element.innerText ?? ""), edit.node, { timeout: 15_000 });
  await settle();
  result.run = (await page.evaluate(() => window.ltx2Measure()))[edit.node];
  await page.screenshot({ path: join(request.shots, "run.png") });
  // the rest of the run: the last chunks, the end and the video output the frontend previews on the node
  await page.evaluate(() => fetch("/api/ltx2-test/finish", { method: "POST" }));
  await page.waitForFunction((id) => /Done/.test(window.app.graph.getNodeById(id)?.ltx2Progress?.element.innerText ?? ""), edit.node, { timeout: 15_000 });
  await page.waitForFunction((id) => window.app.graph.getNodeById(id)?.widgets?.find((w) => w.name === "video-preview")?.element.querySelector("video")?.readyState >= 2, edit.node, { timeout: 15_000 }).catch(() => {});
  await settle();
  await page.evaluate((id) => window.ltx2Frame([id], 0.5), edit.node);
  await settle();
  result.done = (await page.evaluate(() => window.ltx2Measure()))[edit.node];
  result.done.widgets = await page.evaluate((id) => {
    const node = window.app.graph.getNodeById(id);
    return node.widgets.filter((w) => w.element).map((w) => {
      const r = w.element.getBoundingClientRect();
      return { name: w.name, top: r.top, bottom: r.bottom, left: r.left, right: r.right, shown: w.element.isConnected && r.height > 0 };
    });
  }, edit.node);
  await page.screenshot({ path: join(request.shots, "run_done.png") });

  // the Nodes 2.0 renderer (a setting): the editor on a Vue node; the frontend folds the advanced inputs itself
  await page.evaluate(() => window.app.ui.settings.setSettingValueAsync("Comfy.VueNodes.Enabled", true));
  await page.evaluate(async (wf) => window.app.loadGraphData(structuredClone(wf), true, true), request.workflows[edit.workflow]);
  await settle();
  await page.evaluate(() => window.ltx2Frame());
  await settle();
  result.vue = (await page.evaluate(() => window.ltx2Measure()))[edit.node];
  result.vue.nodeText = await page.evaluate((id) => document.querySelector(`[data-node-id="${id}"]`)?.innerText ?? null, edit.node);
  await page.screenshot({ path: join(request.shots, "nodes_2.png") });
} catch (e) {
  result.errors.push(`driver: ${e.stack ?? e}`);
  await browser.contexts()[0]?.pages()[0]?.screenshot({ path: join(request.shots, "failure.png") }).catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
