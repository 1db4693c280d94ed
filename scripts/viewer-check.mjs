// viewer-check.mjs: drives sio-serve's viewer page in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) for e2e/viewer_test.go.
//
//   node scripts/viewer-check.mjs [CHROMIUM]
//
// Reads one JSON command per line on stdin and answers each with one JSON
// line on stdout: {"ok": true, ...} or {"ok": false, "error": "..."}.
//   {"cmd": "open", "url": U, "width": W, "height": H, "dark": false}
//   {"cmd": "waitText", "text": T, "timeout": MS}   the list shows T
//   {"cmd": "waitTotal", "total": N, "timeout": MS} the page counted N events
//   {"cmd": "eval", "expr": JS}                      value of an expression
//   {"cmd": "click", "selector": S}
//   {"cmd": "emit", "name": E, "data": D, "as": "auto|text|json"}
//   {"cmd": "metrics", "gc": true}  JS heap (after a forced GC unless gc
//                                   is false), DOM nodes, rows, counts
//   {"cmd": "screenshot", "path": P}
//   {"cmd": "close"}
// Requests that leave the page's origin, page errors and console errors
// are reported by "metrics" (external, errors).
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const executablePath = process.argv[2] || "/usr/bin/chromium";
let browser, context, page, cdp, origin;
let promptAnswer;
const prompts = [];
const external = [];
const errors = [];
let profile;

async function open(c) {
  if (!browser) {
    profile = mkdtempSync(join(tmpdir(), "sio-viewer-chromium-"));
    // A persistent context in a fresh profile directory: nothing from
    // another run, no first-run or background traffic.
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
      viewport: { width: c.width || 1100, height: c.height || 720 },
      deviceScaleFactor: c.scale || 1,
      colorScheme: c.dark ? "dark" : "light",
    });
    browser = context;
    page = context.pages()[0] || (await context.newPage());
    page.on("request", (r) => {
      const u = r.url();
      if (origin && !u.startsWith(origin + "/") && !u.startsWith("data:")) external.push(u);
    });
    page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
    // A prompt (the token) is answered with open's "prompt" text, if any.
    page.on("dialog", (d) => {
      prompts.push(d.message());
      if (promptAnswer !== undefined) d.accept(promptAnswer);
      else d.dismiss();
    });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push("console: " + m.text());
    });
    cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
  }
  if (c.width) await page.setViewportSize({ width: c.width, height: c.height || 720 });
  await page.emulateMedia({ colorScheme: c.dark ? "dark" : "light" });
  origin = new URL(c.url).origin;
  await page.goto(c.url);
  await page.waitForSelector('#conn[data-state="connected"]', { timeout: c.timeout || 15000 });
  // The most rows the list ever held: checked after every DOM change.
  await page.evaluate(() => {
    const list = document.getElementById("events");
    window.__maxRows = list.childElementCount;
    new MutationObserver(() => {
      if (list.childElementCount > window.__maxRows) window.__maxRows = list.childElementCount;
    }).observe(list, { childList: true });
  });
  return { title: await page.title() };
}

async function metrics(gc) {
  if (gc) {
    // Twice, a frame apart: the first run frees what only weak references
    // and pending observer records held; the second frees what they held.
    await cdp.send("HeapProfiler.collectGarbage");
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
    await cdp.send("HeapProfiler.collectGarbage");
  }
  const { metrics: m } = await cdp.send("Performance.getMetrics");
  const get = (n) => (m.find((x) => x.name === n) || {}).value;
  const page_ = await page.evaluate(() => {
    const list = document.getElementById("events");
    // The most nodes (elements and text) of any one row.
    let perRow = 0;
    for (const row of list.children) {
      const w = document.createTreeWalker(row);
      let k = 1;
      while (w.nextNode()) k++;
      if (k > perRow) perRow = k;
    }
    // Every node of the document (the CDP count also has the user agent's
    // shadow trees of form controls, and nodes not yet collected).
    const all = document.createTreeWalker(document);
    let docNodes = 1;
    while (all.nextNode()) docNodes++;
    return {
      docNodes,
      rows: list.childElementCount,
      maxRows: window.__maxRows,
      total: Number(document.getElementById("n-total").textContent),
      shown: Number(document.getElementById("n-shown").textContent),
      rate: Number(document.getElementById("n-rate").textContent),
      max: Number(document.getElementById("n-max").textContent),
      nodesPerRow: perRow,
      perfMemory: performance.memory ? performance.memory.usedJSHeapSize : null,
    };
  });
  return {
    ...page_,
    jsHeapUsed: get("JSHeapUsedSize"),
    jsHeapTotal: get("JSHeapTotalSize"),
    nodes: get("Nodes"),
    external: external.slice(),
    errors: errors.slice(),
  };
}

async function handle(c) {
  switch (c.cmd) {
    case "open":
      promptAnswer = c.prompt;
      return open(c);
    case "prompts":
      return { prompts: prompts.slice() };
    case "waitText":
      await page.waitForFunction(
        (t) => document.getElementById("events").textContent.includes(t),
        c.text,
        { timeout: c.timeout || 10000, polling: 50 },
      );
      return {};
    case "waitTotal":
      await page.waitForFunction(
        (n) => Number(document.getElementById("n-total").textContent) >= n,
        c.total,
        { timeout: c.timeout || 10000, polling: 50 },
      );
      return {};
    case "eval":
      return { value: await page.evaluate(c.expr) };
    case "click":
      await page.click(c.selector);
      return {};
    case "emit": {
      const box = page.locator("#emit-box");
      if (!(await box.evaluate((d) => d.open))) await page.click("#emit-box > summary");
      await page.fill("#emit-name", c.name);
      await page.fill("#emit-data", c.data);
      await page.selectOption("#emit-as", c.as || "auto");
      await page.click('#emit button[type="submit"]');
      return { msg: await page.textContent("#emit-msg") };
    }
    case "metrics":
      return metrics(c.gc !== false);
    case "screenshot":
      await page.screenshot({ path: c.path, fullPage: !!c.fullPage });
      return {};
    case "close":
      if (browser) await browser.close();
      browser = undefined;
      if (profile) rmSync(profile, { recursive: true, force: true });
      return {};
    default:
      throw new Error("unknown command " + c.cmd);
  }
}

const rl = createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on("line", (line) => {
  queue = queue.then(async () => {
    let out;
    try {
      out = { ok: true, ...(await handle(JSON.parse(line))) };
    } catch (e) {
      out = { ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
rl.on("close", () => {
  queue.then(async () => {
    if (browser) await browser.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });
});
