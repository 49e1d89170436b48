/**
 * `npm run bench`: the micro suite (`micro.ts`) on Node, Deno and Bun, one
 * after the other, each printing its own table; then one summary of the
 * ratios side by side. Arguments are passed to every run (`--filter REGEX`,
 * `--quick`); `BENCH_RUNTIMES="node bun"` picks runtimes. The JSON of each
 * run is kept in `bench/.out/micro-<runtime>.json`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { MicroReport } from "./micro.ts";
import { formatRatio } from "./micro/case.ts";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "..");
const bin = (name: string): string => resolve(root, "node_modules/.bin", name);

const COMMANDS: Record<string, string[]> = {
  node: [bin("node"), "--expose-gc", "bench/micro.ts"],
  deno: [
    bin("deno"),
    "run",
    "--allow-read",
    "--allow-write=bench/.out",
    "--allow-sys=cpus,osRelease",
    "--v8-flags=--expose-gc",
    "bench/micro.ts",
  ],
  bun: [bin("bun"), "bench/micro.ts"],
};

const runtimes = (process.env.BENCH_RUNTIMES ?? "node deno bun").split(" ").filter((r) => r !== "");
const args = process.argv.slice(2);
const reports: MicroReport[] = [];
let failed = false;
for (const runtime of runtimes) {
  const command = COMMANDS[runtime];
  if (!command) {
    console.error(`unknown runtime ${runtime} (want node, deno, bun)`);
    failed = true;
    continue;
  }
  const json = `bench/.out/micro-${runtime}.json`;
  rmSync(resolve(root, json), { force: true });
  const result = spawnSync(command[0], [...command.slice(1), ...args, "--json", json], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error(`${runtime}: micro suite exited with ${result.status ?? result.signal}`);
    failed = true;
  }
  if (existsSync(resolve(root, json))) reports.push(JSON.parse(readFileSync(resolve(root, json), "utf8")));
}

if (reports.length > 1) {
  console.log("\nratio to the reference (reference time / case time), by runtime:");
  const names: string[] = [];
  const key = (r: { area: string; name: string }): string => `${r.area}: ${r.name}`;
  for (const report of reports) {
    for (const r of report.results) if (!names.includes(key(r))) names.push(key(r));
  }
  const width = Math.max(...names.map((n) => n.length)) + 2;
  console.log("  " + "case".padEnd(width) + reports.map((r) => r.runtime.padStart(8)).join("") + "  target");
  for (const name of names) {
    const cells = reports.map((report) => {
      const r = report.results.find((x) => key(x) === name);
      return (r ? formatRatio(r.ratio) : "-").padStart(8);
    });
    const target = reports.flatMap((report) => report.results).find((x) => key(x) === name)?.target;
    console.log("  " + name.padEnd(width) + cells.join("") + (target ? `  ≥ ${target}×` : ""));
  }
  for (const p of reports[0].pending) console.log(`  ${p.area}: not yet available`);
}
if (failed) process.exitCode = 1;
