/**
 * `npm run bench:load`: the wsbench load benchmark (../shared/tools/wsbench)
 * with, on each of Node, Deno and Bun, hybi's echo server on its handler path
 * (`hybi-node`, `hybi-deno`, `hybi-bun`: `examples/echo.ts --api handlers`)
 * and on its `for await` default session (`hybi-*-session`: `--api
 * session`), and the runtime's floor (`floor-node`, `floor-deno`,
 * `floor-bun`: the bare echo of `bench/floor/`), beside the peers (ws on the
 * same pinned Node, Deno's and Bun's built-in servers, the raw TCP echo), all
 * in one run of wsbench's `run.sh`; then `bench/RESULTS.md` and
 * `bench/ratios.svg` from its raw results (see `load_report.ts`).
 *
 * run.sh's knobs pass through the environment: RUNS (3), SECS (5), WARMUP
 * (1), SCENARIOS ("small pipelined bulk large idle"), SERVERS (all, or any
 * subset, e.g. "hybi-node hybi-node-session floor-node ws"), IDLE_CONNS
 * (10000), IDLE_SECS (5). A smoke run:
 *
 *   RUNS=1 SECS=2 SCENARIOS="small pipelined" npm run bench:load
 *
 * Also: WSBENCH_DIR (where wsbench lives), HYBI_ECHO (the echo server to run
 * as hybi-*, with `--api handlers` or `--api session`; default
 * examples/echo.ts; the hybi rows are left out while it does not exist).
 * Binaries are built into bench/.out/bin, each run's raw output goes to
 * bench/.out/load-<time>/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { type LoadMeta, systemLoad } from "./load_data.ts";
import { writeReport } from "./load_report.ts";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "..");
const modules = resolve(root, "node_modules");
const wsbenchDir = resolve(process.env.WSBENCH_DIR ?? resolve(root, "../shared/tools/wsbench"));
const binDir = resolve(bench, ".out/bin");
const bin = (name: string): string => realpathSync(resolve(modules, ".bin", name));
const NODE = bin("node");
const DENO = bin("deno");
const BUN = bin("bun");

function firstLine(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  return (r.stdout ?? "").split("\n")[0].trim() || `(${command} ${args.join(" ")} failed)`;
}

function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(resolve(modules, name, "package.json"), "utf8")).version;
  } catch {
    return "not installed";
  }
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${
    p(d.getSeconds())
  }`;
}

function estimateMinutes(serverCount: number): number {
  const runs = Number(process.env.RUNS ?? 3);
  const secs = Number(process.env.SECS ?? 5);
  const warmup = Number(process.env.WARMUP ?? 1);
  const idleSecs = Number(process.env.IDLE_SECS ?? 5);
  let s = 0;
  for (const scenario of (process.env.SCENARIOS ?? "small pipelined bulk large idle").split(" ")) {
    if (scenario === "") continue;
    // per server: start (~1 s), warm-up, runs, the pauses between runs; idle: connect + hold + stop
    s += scenario === "idle" ? serverCount * (idleSecs + 5) : serverCount * (1 + warmup + runs * (secs + 0.5)) + 2;
  }
  return s / 60;
}

function main(): void {
  const started = new Date();
  const loadStart = systemLoad();
  const runDir = resolve(bench, `.out/load-${stamp(started)}`);

  const echo = resolve(root, process.env.HYBI_ECHO ?? "examples/echo.ts");
  const floor = resolve(bench, "floor");
  // Per runtime: hybi's handler path, hybi's `for await` session, the floor (bench/floor/), then the peer.
  const runtimes = [
    { id: "node", run: NODE, floorRun: NODE, peer: "ws" },
    { id: "deno", run: `${DENO} run -A`, floorRun: `${DENO} run --allow-net`, peer: "deno" },
    { id: "bun", run: BUN, floorRun: BUN, peer: "bun" },
  ];
  const hybiExists = existsSync(echo);
  let hybiNote: string | null = null;
  if (!hybiExists) {
    hybiNote = `${relative(root, echo)} does not exist (yet): hybi rows not measured`;
    console.error(`note: ${hybiNote}`);
  }
  const peerCommands: Record<string, string> = {
    ws: `${NODE} peers/ws-echo.mjs (ws ${packageVersion("ws")} + bufferutil)`,
    deno: `${DENO} run --allow-net peers/deno-echo.ts (Deno.serve + Deno.upgradeWebSocket)`,
    bun: `${BUN} peers/bun-echo.ts (Bun.serve websocket)`,
    "tcp-raw": "peers/tcp-echo (epoll, echoes bytes verbatim)",
  };
  /** Servers this script adds to run.sh's peers (hybi's rows and the floors). */
  const servers: { name: string; command: string }[] = [];
  /** Every server in table order; the peers' commands are only shown (run.sh starts them). */
  const all: { name: string; command: string }[] = [];
  for (const rt of runtimes) {
    const own = [
      ...hybiExists
        ? [
          { name: `hybi-${rt.id}`, command: `${rt.run} ${echo} --api handlers --port {port}` },
          { name: `hybi-${rt.id}-session`, command: `${rt.run} ${echo} --api session --port {port}` },
        ]
        : [],
      { name: `floor-${rt.id}`, command: `${rt.floorRun} ${floor}/${rt.id}.ts --port {port}` },
    ];
    servers.push(...own);
    all.push(...own, { name: rt.peer, command: peerCommands[rt.peer] });
  }
  all.push({ name: "tcp-raw", command: peerCommands["tcp-raw"] });

  const selected = process.env.SERVERS?.trim() ? process.env.SERVERS.split(" ").filter((s) => s !== "") : null;
  const known = [
    ...runtimes.flatMap((rt) => [`hybi-${rt.id}`, `hybi-${rt.id}-session`, `floor-${rt.id}`, rt.peer]),
    "tcp-raw",
  ];
  const unknown = selected?.filter((n) => !known.includes(n)) ?? [];
  if (unknown.length > 0) {
    console.error(`SERVERS: unknown ${unknown.join(", ")}; known: ${known.join(" ")}`);
    process.exit(2);
  }
  const missing = selected?.filter((n) => n.startsWith("hybi-") && !hybiExists) ?? [];
  if (missing.length > 0) console.error(`note: SERVERS names ${missing.join(", ")}, left out (no echo server)`);
  const shown = all.filter((s) => !selected || selected.includes(s.name));
  const measured = shown.map((s) => s.name);

  mkdirSync(runDir, { recursive: true });

  console.error(`building wsbench from ${wsbenchDir} into ${relative(root, binDir)}/`);
  const build = spawnSync("sh", [resolve(wsbenchDir, "build.sh"), binDir], { stdio: "inherit" });
  if (build.status !== 0) {
    console.error("wsbench build failed");
    process.exit(1);
  }

  const meta: LoadMeta = {
    date: started.toISOString(),
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    kernel: release(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    versions: {
      node: firstLine(NODE, ["--version"]),
      deno: firstLine(DENO, ["--version"]),
      bun: firstLine(BUN, ["--version"]),
      ws: packageVersion("ws"),
      bufferutil: packageVersion("bufferutil"),
      gcc: firstLine("gcc", ["--version"]),
    },
    settings: {
      RUNS: process.env.RUNS ?? "3",
      SECS: process.env.SECS ?? "5",
      WARMUP: process.env.WARMUP ?? "1",
      SCENARIOS: process.env.SCENARIOS ?? "small pipelined bulk large idle",
      SERVERS: selected?.join(" ") ?? "all",
      IDLE_CONNS: process.env.IDLE_CONNS ?? "10000",
      IDLE_SECS: process.env.IDLE_SECS ?? "5",
      SERVER_CPU: process.env.SERVER_CPU ?? "0",
      CLIENT_CPU: process.env.CLIENT_CPU ?? "1",
    },
    servers: shown.map((s) => ({ ...s, command: s.command.replaceAll(`${root}/`, "") })),
    hybiNote,
    wsbenchDir: relative(root, wsbenchDir),
    runDir: relative(root, runDir),
    loadStart,
    loadEnd: "",
    finished: "",
  };
  writeFileSync(resolve(runDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");

  console.error(
    `running wsbench: ${measured.join(", ")}; scenarios ${meta.settings.SCENARIOS}; ` +
      `${meta.settings.RUNS} × ${meta.settings.SECS} s; about ${
        Math.ceil(estimateMinutes(measured.length))
      } min. Raw output: ${meta.runDir}/`,
  );
  const extra = servers.filter((s) => measured.includes(s.name)).map((s) => `${s.name}=${s.command}`);
  const run = spawnSync("bash", [resolve(wsbenchDir, "run.sh"), ...extra], {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      SERVERS: selected?.join(" ") ?? "",
      WSBENCH_BIN: binDir,
      WSBENCH_RT: modules,
      NODE,
      DENO,
      BUN,
      OUT: runDir,
    },
  });
  meta.loadEnd = systemLoad();
  meta.finished = new Date().toISOString();
  writeFileSync(resolve(runDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
  if (run.status !== 0) console.error(`run.sh exited with ${run.status ?? run.signal}; writing what it measured`);

  const written = writeReport(runDir, bench);
  console.error(`\nwrote ${written.map((p) => relative(root, p)).join(" and ")}`);
  if (run.status !== 0) process.exitCode = 1;
}

main();
