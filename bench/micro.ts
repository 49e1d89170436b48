/**
 * Micro benchmark runner: one runtime, every area of `micro/registry.ts`.
 * Each case is measured with mitata right beside its reference, and the table
 * gives `ratio = reference time / case time` (1.00× = as fast as the
 * reference). `npm run bench` runs this on Node, Deno and Bun in turn
 * (`micro_all.ts`); to run one runtime by hand:
 *
 *   node_modules/.bin/node --expose-gc bench/micro.ts [--filter REGEX] [--json FILE] [--rounds N] [--quick]
 *   node_modules/.bin/deno run -A --v8-flags=--expose-gc bench/micro.ts ...
 *   node_modules/.bin/bun bench/micro.ts ...
 *
 * Case and reference are measured alternately in `--rounds` rounds (3) of
 * ~0.25 s each; the table gives the median round, and "noise" the spread of
 * the rounds ((max - min) / median, the worse of case and reference): on a
 * shared machine a figure with a large spread says "measure again".
 * `--filter` keeps cases whose "area: name" matches; `--quick` is one round
 * of ~0.1 s (smoke runs; figures are noisier).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { cpus, release } from "node:os";
import process from "node:process";
import { do_not_optimize, measure } from "mitata";
import { formatRatio, type MicroCase } from "./micro/case.ts";
import { AREAS } from "./micro/registry.ts";

/** One measured pair, as written by `--json`. */
export interface MicroResult {
  area: string;
  name: string;
  bytes: number;
  avgNs: number;
  p50Ns: number;
  reference: string;
  referenceBytes: number;
  referenceAvgNs: number;
  referenceP50Ns: number;
  /** Reference time / case time, from the averages. */
  ratio: number;
  /** (max - min) / median of the rounds' averages, the worse of case and reference. */
  spread: number;
  target: number | null;
}

/** What `--json` writes. */
export interface MicroReport {
  runtime: string;
  version: string;
  date: string;
  cpu: string;
  kernel: string;
  results: MicroResult[];
  /** Areas whose case file does not exist yet. */
  pending: { area: string; waitingFor: string }[];
  /** Areas or cases that failed to load, verify or run. */
  failed: { area: string; name: string; error: string }[];
}

interface Options {
  filter: RegExp | null;
  json: string | null;
  quick: boolean;
  rounds: number;
}

function parseArgs(args: string[]): Options {
  const options: Options = { filter: null, json: null, quick: false, rounds: 3 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--filter") options.filter = new RegExp(args[++i], "i");
    else if (a === "--json") options.json = args[++i];
    else if (a === "--quick") options.quick = true;
    else if (a === "--rounds") options.rounds = Math.max(1, Number(args[++i]));
    else throw new Error(`unknown argument ${a} (want --filter REGEX, --json FILE, --rounds N, --quick)`);
  }
  if (options.quick) options.rounds = 1;
  return options;
}

function runtimeOf(): { runtime: string; version: string } {
  const g = globalThis as { Deno?: { version: { deno: string; v8: string } }; Bun?: { version: string } };
  if (g.Deno) return { runtime: "deno", version: `${g.Deno.version.deno} (V8 ${g.Deno.version.v8})` };
  if (g.Bun) return { runtime: "bun", version: `${g.Bun.version} (JavaScriptCore)` };
  return { runtime: "node", version: `${process.versions.node} (V8 ${process.versions.v8})` };
}

function hasGc(): boolean {
  const g = globalThis as { gc?: unknown; Bun?: unknown };
  return typeof g.gc === "function" || g.Bun !== undefined;
}

/** The case's work with its result consumed, sync or async as the work is. */
async function consumed(run: () => unknown): Promise<() => unknown> {
  const probe = run();
  if (probe instanceof Promise) {
    await probe;
    return async () => do_not_optimize(await run());
  }
  return () => do_not_optimize(run());
}

async function timeOf(run: () => unknown, cpuTimeNs: number): Promise<{ avg: number; p50: number }> {
  // Without a gc() hook mitata would allocate 1 GiB to force a collection; skip that instead.
  const stats = await measure(run, { gc: hasGc() ? undefined : false, min_cpu_time: cpuTimeNs });
  return { avg: stats.avg, p50: stats.p50 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function spreadOf(values: number[]): number {
  return (Math.max(...values) - Math.min(...values)) / median(values);
}

/** Case and reference measured alternately, `rounds` times each. */
async function measurePair(c: MicroCase, options: Options): Promise<Omit<MicroResult, "area">> {
  const own = await consumed(c.run);
  const ref = await consumed(c.reference.run);
  const cpuTimeNs = options.quick ? 100e6 : 250e6;
  const ownRounds: { avg: number; p50: number }[] = [];
  const refRounds: { avg: number; p50: number }[] = [];
  for (let r = 0; r < options.rounds; r++) {
    ownRounds.push(await timeOf(own, cpuTimeNs));
    refRounds.push(await timeOf(ref, cpuTimeNs));
  }
  const avgNs = median(ownRounds.map((x) => x.avg));
  const referenceAvgNs = median(refRounds.map((x) => x.avg));
  return {
    name: c.name,
    bytes: c.bytes,
    avgNs,
    p50Ns: median(ownRounds.map((x) => x.p50)),
    reference: c.reference.name,
    referenceBytes: c.reference.bytes,
    referenceAvgNs,
    referenceP50Ns: median(refRounds.map((x) => x.p50)),
    ratio: referenceAvgNs / avgNs,
    spread: Math.max(spreadOf(ownRounds.map((x) => x.avg)), spreadOf(refRounds.map((x) => x.avg))),
    target: c.target ?? null,
  };
}

function formatTime(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(ns < 1e4 ? 2 : 1)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

function formatRate(bytes: number, ns: number): string {
  if (bytes === 0) return `${(1e9 / ns).toFixed(0)}/s`;
  const mbs = (bytes / ns) * 1e3;
  return `${mbs.toFixed(mbs < 100 ? 1 : 0)} MB/s`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function row(r: MicroResult): string {
  const met = r.target === null ? "" : r.ratio >= r.target ? `≥ ${r.target}× met` : `≥ ${r.target}× MISSED`;
  return [
    "  " + pad(r.name, 44),
    pad(formatTime(r.avgNs), 10, true),
    pad(formatRate(r.bytes, r.avgNs), 12, true),
    "  " + pad(r.reference, 28),
    pad(formatTime(r.referenceAvgNs), 10, true),
    pad(formatRate(r.referenceBytes, r.referenceAvgNs), 12, true),
    pad(formatRatio(r.ratio), 8, true),
    pad(r.spread > 0 ? `±${Math.round(r.spread * 50)}%` : "", 7, true),
    "  " + met,
  ].join("");
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { runtime, version } = runtimeOf();
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const report: MicroReport = {
    runtime,
    version,
    date: new Date().toISOString(),
    cpu: `${cpu}, ${cpus().length} CPUs`,
    kernel: release(),
    results: [],
    pending: [],
    failed: [],
  };
  const print = (line: string): void => console.log(line);
  print(`\nhybi micro benchmarks — ${runtime} ${version}, ${report.cpu}, ${report.date}`);
  print(
    `ratio = reference time / case time (1.00× = as fast as the reference); time: median of ${options.rounds} ` +
      `round(s) of mitata averages, case and reference alternating; noise: ± half the rounds' spread` +
      (hasGc() ? "" : " (no gc() hook: run node with --expose-gc)") + (options.quick ? "; QUICK mode" : ""),
  );
  print(
    "  " + pad("case", 44) + pad("time", 10, true) + pad("rate", 12, true) + "  " + pad("reference (same run)", 28) +
      pad("time", 10, true) + pad("rate", 12, true) + pad("ratio", 8, true) + pad("noise", 7, true) + "  target",
  );
  const here = dirname(fileURLToPath(import.meta.url));
  for (const area of AREAS) {
    const path = `${here}/micro/${area.file}`;
    if (!existsSync(path)) {
      if (options.filter && !options.filter.test(area.name)) continue;
      print(`${area.name}: not yet available — waiting for ${area.pending ?? "its case file"}`);
      report.pending.push({ area: area.name, waitingFor: area.pending ?? "" });
      continue;
    }
    let cases: MicroCase[];
    try {
      cases = (await import(`./micro/${area.file}`) as { cases: MicroCase[] }).cases;
    } catch (e) {
      print(`${area.name}: FAILED to load: ${errorText(e)}`);
      report.failed.push({ area: area.name, name: "(load)", error: errorText(e) });
      continue;
    }
    const selected = cases.filter((c) => !options.filter || options.filter.test(`${area.name}: ${c.name}`));
    if (selected.length === 0) continue;
    print(area.name);
    for (const c of selected) {
      try {
        await c.verify?.();
        const result: MicroResult = { area: area.name, ...await measurePair(c, options) };
        report.results.push(result);
        print(row(result));
      } catch (e) {
        print(`  ${pad(c.name, 44)}FAILED: ${errorText(e)}`);
        report.failed.push({ area: area.name, name: c.name, error: errorText(e) });
      }
    }
  }
  if (options.json) {
    mkdirSync(dirname(options.json), { recursive: true });
    writeFileSync(options.json, JSON.stringify(report, null, 2) + "\n");
  }
  if (report.failed.length > 0) process.exitCode = 1;
}

await main();
