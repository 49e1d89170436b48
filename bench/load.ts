/**
 * `npm run bench:load`: the wsbench load benchmark (the load generator's directory from WSBENCH_DIR)
 * with, on each of Node, Deno and Bun, hybi's echo server on its handler path
 * (`hybi-node`, `hybi-deno`, `hybi-bun`: `examples/echo.ts --api handlers`)
 * and on its `for await` default session (`hybi-*-session`: `--api
 * session`), and the runtime's floor (`floor-node`, `floor-deno`,
 * `floor-bun`: the bare echo of `bench/floor/`), beside the peers (ws on the
 * same pinned Node, Deno's and Bun's built-in servers, the raw TCP echo), all
 * in one run of wsbench's `run.sh`; then `bench/RESULTS.md` and
 * `bench/ratios.svg` from its raw results (see `load_report.ts`).
 *
 * The `broadcast` scenario (issue 12: 1,000 connections, every message goes to
 * all of them) runs in a second invocation of run.sh, because run.sh gives its
 * extra servers to every scenario it runs and a broadcast server is not an
 * echo: hybi-node, hybi-deno, hybi-bun there run `examples/broadcast.ts`
 * (`server.publish` on one topic) beside run.sh's broadcast peers (`ws`
 * looping over `wss.clients`, Deno's native server looping over its sockets,
 * `Bun.serve`'s `publish`). Its raw output goes to `<run folder>/broadcast/`,
 * its report to `bench/RESULTS-broadcast.md`; a run without echo scenarios
 * (`SCENARIOS=broadcast`) leaves `RESULTS.md` and `ratios.svg` alone.
 *
 * run.sh's knobs pass through the environment: RUNS (3), SECS (5), WARMUP
 * (1), SCENARIOS ("small pipelined bulk large idle broadcast"), SERVERS (all,
 * or any subset, e.g. "hybi-node hybi-node-session floor-node ws"; the
 * broadcast scenario keeps those of hybi-node/-deno/-bun, ws, deno, bun),
 * IDLE_CONNS (10000), IDLE_SECS (5), BCAST_CONNS (1000), BCAST_PUBLISHERS (1),
 * BCAST_SIZE (32), BCAST_DEPTH (4). Smoke runs:
 *
 *   RUNS=1 SECS=2 SCENARIOS="small pipelined" npm run bench:load
 *   RUNS=1 SECS=2 SCENARIOS=broadcast SERVERS="hybi-node ws" npm run bench:load
 *
 * Also: WSBENCH_DIR (where wsbench lives), HYBI_ECHO (the echo server to run
 * as hybi-*, with `--api handlers` or `--api session`; default
 * examples/echo.ts; the hybi rows are left out while it does not exist),
 * HYBI_BROADCAST (the broadcast server, default examples/broadcast.ts).
 * Binaries are built into bench/.out/bin, each run's raw output goes to
 * bench/.out/load-<time>/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { BROADCAST, broadcastDir, type LoadMeta } from "./load_data.ts";
import { bin, firstLine, packageVersion, stamp, systemLoad } from "./run_info.ts";
import { writeReport } from "./load_report.ts";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "..");
const modules = resolve(root, "node_modules");
const wsbenchDir = resolve(process.env.WSBENCH_DIR ?? resolve(root, "../shared/tools/wsbench"));
const binDir = resolve(bench, ".out/bin");
const NODE = bin("node");
const DENO = bin("deno");
const BUN = bin("bun");

const DEFAULT_SCENARIOS = "small pipelined bulk large idle broadcast";

function estimateMinutes(scenarios: string[], echoServers: number, broadcastServers: number): number {
  const runs = Number(process.env.RUNS ?? 3);
  const secs = Number(process.env.SECS ?? 5);
  const warmup = Number(process.env.WARMUP ?? 1);
  const idleSecs = Number(process.env.IDLE_SECS ?? 5);
  let s = 0;
  for (const scenario of scenarios) {
    // per server: start (~1 s), warm-up, runs, the pauses between runs; idle: connect + hold + stop;
    // broadcast: also 1,000 connections to open per client run
    if (scenario === "idle") s += echoServers * (idleSecs + 5);
    else if (scenario === BROADCAST) s += broadcastServers * (1 + warmup + runs * (secs + 1.5)) + 2;
    else s += echoServers * (1 + warmup + runs * (secs + 0.5)) + 2;
  }
  return s / 60;
}

function main(): void {
  const started = new Date();
  const loadStart = systemLoad();
  const runDir = resolve(bench, `.out/load-${stamp(started)}`);

  const echo = resolve(root, process.env.HYBI_ECHO ?? "examples/echo.ts");
  const broadcast = resolve(root, process.env.HYBI_BROADCAST ?? "examples/broadcast.ts");
  const scenarios = (process.env.SCENARIOS ?? DEFAULT_SCENARIOS).split(" ").filter((s) => s !== "");
  const echoScenarios = scenarios.filter((s) => s !== BROADCAST);
  const hasBroadcast = scenarios.includes(BROADCAST);
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

  // The broadcast scenario's servers: hybi's broadcast example and run.sh's broadcast peers.
  const broadcastExists = existsSync(broadcast);
  if (hasBroadcast && !broadcastExists) {
    console.error(`note: ${relative(root, broadcast)} does not exist: hybi rows left out of the broadcast scenario`);
  }
  const broadcastPeers: Record<string, string> = {
    ws: `${NODE} peers/ws-broadcast.mjs (ws ${packageVersion("ws")} + bufferutil, looping over wss.clients)`,
    deno: `${DENO} run --allow-net peers/deno-broadcast.ts (Deno.serve + Deno.upgradeWebSocket, looping over a Set)`,
    bun: `${BUN} peers/bun-broadcast.ts (Bun.serve websocket, server.publish)`,
  };
  const broadcastServers: { name: string; command: string }[] = [];
  const broadcastAll: { name: string; command: string }[] = [];
  for (const rt of runtimes) {
    const own = broadcastExists ? [{ name: `hybi-${rt.id}`, command: `${rt.run} ${broadcast} --port {port}` }] : [];
    broadcastServers.push(...own);
    broadcastAll.push(...own, { name: rt.peer, command: broadcastPeers[rt.peer] });
  }

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
  const shown = echoScenarios.length > 0 ? all.filter((s) => !selected || selected.includes(s.name)) : [];
  const measured = shown.map((s) => s.name);
  const broadcastShown = hasBroadcast ? broadcastAll.filter((s) => !selected || selected.includes(s.name)) : [];
  const broadcastMeasured = broadcastShown.map((s) => s.name);
  if (hasBroadcast && broadcastShown.length === 0) {
    console.error(
      "note: SERVERS names no broadcast server (hybi-node, hybi-deno, hybi-bun, ws, deno, bun): no broadcast",
    );
  }

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
      SCENARIOS: scenarios.join(" "),
      SERVERS: selected?.join(" ") ?? "all",
      IDLE_CONNS: process.env.IDLE_CONNS ?? "10000",
      IDLE_SECS: process.env.IDLE_SECS ?? "5",
      SERVER_CPU: process.env.SERVER_CPU ?? "0",
      CLIENT_CPU: process.env.CLIENT_CPU ?? "1",
      BCAST_CONNS: process.env.BCAST_CONNS ?? "1000",
      BCAST_PUBLISHERS: process.env.BCAST_PUBLISHERS ?? "1",
      BCAST_SIZE: process.env.BCAST_SIZE ?? "32",
      BCAST_DEPTH: process.env.BCAST_DEPTH ?? "4",
    },
    servers: shown.map((s) => ({ ...s, command: s.command.replaceAll(`${root}/`, "") })),
    broadcastServers: broadcastShown.map((s) => ({ ...s, command: s.command.replaceAll(`${root}/`, "") })),
    hybiNote,
    wsbenchDir: relative(root, wsbenchDir),
    runDir: relative(root, runDir),
    loadStart,
    loadEnd: "",
    finished: "",
  };
  writeFileSync(resolve(runDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");

  const minutes = Math.ceil(estimateMinutes(scenarios, measured.length, broadcastMeasured.length));
  console.error(
    `running wsbench: ${measured.length > 0 ? `${measured.join(", ")}; scenarios ${echoScenarios.join(" ")}` : ""}` +
      `${measured.length > 0 && broadcastMeasured.length > 0 ? "; then " : ""}` +
      `${broadcastMeasured.length > 0 ? `broadcast: ${broadcastMeasured.join(", ")}` : ""}; ` +
      `${meta.settings.RUNS} × ${meta.settings.SECS} s; about ${minutes} min. Raw output: ${meta.runDir}/`,
  );
  const runSh = (extra: string[], env: Record<string, string>): number | string | null => {
    const r = spawnSync("bash", [resolve(wsbenchDir, "run.sh"), ...extra], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, WSBENCH_BIN: binDir, WSBENCH_RT: modules, NODE, DENO, BUN, ...env },
    });
    return r.status ?? r.signal;
  };
  const failures: string[] = [];
  if (measured.length > 0) {
    const extra = servers.filter((s) => measured.includes(s.name)).map((s) => `${s.name}=${s.command}`);
    const status = runSh(extra, {
      SCENARIOS: echoScenarios.join(" "),
      SERVERS: selected?.join(" ") ?? "",
      OUT: runDir,
    });
    if (status !== 0) failures.push(`run.sh (echo scenarios) exited with ${status}`);
  }
  if (broadcastMeasured.length > 0) {
    // Its own invocation: run.sh would give an echo server to the broadcast scenario too (and vice versa).
    const extra = broadcastServers.filter((s) => broadcastMeasured.includes(s.name)).map((s) =>
      `${s.name}=${s.command}`
    );
    const status = runSh(extra, {
      SCENARIOS: BROADCAST,
      SERVERS: selected ? broadcastMeasured.join(" ") : "",
      OUT: broadcastDir(runDir),
    });
    if (status !== 0) failures.push(`run.sh (broadcast) exited with ${status}`);
  }
  meta.loadEnd = systemLoad();
  meta.finished = new Date().toISOString();
  writeFileSync(resolve(runDir, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
  for (const f of failures) console.error(`${f}; writing what it measured`);

  const written = writeReport(runDir, bench);
  console.error(`\nwrote ${written.map((p) => relative(root, p)).join(", ") || "nothing (no results)"}`);
  if (failures.length > 0) process.exitCode = 1;
}

main();
