/**
 * `npm run bench:client`: the client echo benchmark (issue 13). For each
 * runtime, one hybi echo server (`client_echo.ts --serve`: handler path, no
 * compression) in its own process, on the same runtime as the clients unless
 * `SERVER` names another; against that one server, in separate client
 * processes, hybi's `connect` (handler path: `hybi`; default session:
 * `hybi-session`) and the runtime's reference client (`ws` with bufferutil
 * on Node, the global `WebSocket` on Deno and Bun), alternating
 * (hybi, session, peer, hybi, session, peer …) so drift hits them alike.
 * Each client run keeps a window of messages in flight and counts round
 * trips per second over `SECS` after `WARMUP`; the table shows the median
 * run of each, the ratios to the peer, and the client's CPU time per round
 * trip. Server on CPU `SERVER_CPU` (0), clients on `CLIENT_CPU` (1) with
 * taskset when there are two CPUs, as wsbench's run.sh.
 *
 * Writes `bench/RESULTS-client.md`, raw results to
 * `bench/.out/client-<time>/results.jsonl`. Knobs (environment): ROUNDS (3),
 * SECS (4), WARMUP (1), RUNTIMES ("node deno bun"), SCENARIOS (all:
 * "window64-32B window64-16KiB conns100-32B"), CLIENTS ("hybi hybi-session
 * peer"), SERVER (`same`, or node, deno, bun for all). Smoke run:
 *
 *   ROUNDS=2 SECS=1 WARMUP=0.5 npm run bench:client
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { ClientResult } from "./client_echo.ts";
import { bin, busyAtStart, firstLine, loadavgOf, packageVersion, stamp, systemLoad } from "./run_info.ts";

const bench = dirname(fileURLToPath(import.meta.url));
const root = resolve(bench, "..");
const script = resolve(bench, "client_echo.ts");

type Runtime = "node" | "deno" | "bun";
const COMMAND: Record<Runtime, string[]> = {
  node: [bin("node")],
  deno: [bin("deno"), "run", "-A"],
  bun: [bin("bun")],
};
/** The reference client each runtime's hybi client is compared with. */
const PEER: Record<Runtime, string> = { node: "ws", deno: "web", bun: "web" };

interface Scenario {
  name: string;
  conns: number;
  window: number;
  size: number;
  what: string;
}
const SCENARIOS: Scenario[] = [
  { name: "window64-32B", conns: 1, window: 64, size: 32, what: "1 connection, 64 messages of 32 B in flight" },
  { name: "window64-16KiB", conns: 1, window: 64, size: 16384, what: "1 connection, 64 messages of 16 KiB in flight" },
  { name: "conns100-32B", conns: 100, window: 1, size: 32, what: "100 connections, 1 message of 32 B in flight each" },
];

const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback).split(" ").filter((s) => s !== "");
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECS = Number(process.env.SECS ?? 4);
const WARMUP = Number(process.env.WARMUP ?? 1);
const SERVER = process.env.SERVER ?? "same";
const SERVER_CPU = process.env.SERVER_CPU ?? "0";
const CLIENT_CPU = process.env.CLIENT_CPU ?? "1";
const runtimes = list("RUNTIMES", "node deno bun") as Runtime[];
const scenarios = SCENARIOS.filter((s) => list("SCENARIOS", SCENARIOS.map((s) => s.name).join(" ")).includes(s.name));
const clients = list("CLIENTS", "hybi hybi-session peer");
const pin = cpus().length >= 2 && spawnSync("taskset", ["-V"]).status === 0;
const taskset = (cpu: string): string[] => pin ? ["taskset", "-c", cpu] : [];
const full = ROUNDS >= 3 && SECS >= 4 && WARMUP >= 1 && scenarios.length === SCENARIOS.length &&
  runtimes.length === 3 && clients.length === 3;

for (const r of runtimes) {
  if (!(r in COMMAND)) throw new Error(`RUNTIMES: unknown runtime ${r} (node, deno, bun)`);
}
if (SERVER !== "same" && !(SERVER in COMMAND)) throw new Error(`SERVER: same, node, deno or bun, not ${SERVER}`);

/** A running server: its port, and how to stop it. */
interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts `client_echo.ts --serve` on `runtime`, pinned, and waits for its `listening on <port>`. */
function startServer(runtime: Runtime, log: string): Promise<RunningServer> {
  const command = [...taskset(SERVER_CPU), ...COMMAND[runtime], script, "--serve", "--port", "0"];
  const child = spawn(command[0], command.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stderr.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    writeFileSync(log, output);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`the ${runtime} server did not start in 20 s (log: ${relative(root, log)})`));
    }, 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      keep(chunk);
      const at = output.indexOf("listening on ");
      const end = output.indexOf("\n", at);
      if (at >= 0 && end >= 0) {
        const port = Number(output.slice(at + "listening on ".length, end));
        clearTimeout(timer);
        child.stdout.removeAllListeners("data");
        child.stdout.resume(); // anything later is not read, so that the pipe never fills
        resolve({ port, stop });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${runtime} server exited with ${code}: ${output}`));
    });
  });
}

/** One client run in its own process: its JSON line, or why there is none. */
function runClient(runtime: Runtime, client: string, port: number, scenario: Scenario): Promise<ClientResult | string> {
  const args = [
    ...taskset(CLIENT_CPU),
    ...COMMAND[runtime],
    script,
    ...["--client", client, "--port", String(port), "--conns", String(scenario.conns)],
    ...["--window", String(scenario.window), "--size", String(scenario.size)],
    ...["--warmup", String(WARMUP), "--seconds", String(SECS)],
  ];
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(args[0], args.slice(1), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout!.on("data", (c: Buffer) => void (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => void (err += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), (WARMUP + SECS + 60) * 1000);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined && code === 0) resolve(JSON.parse(line) as ClientResult);
      else resolve(`exit ${code ?? signal}: ${(err || out).trim().split("\n").slice(-3).join(" / ")}`);
    });
  });
}

/** Lower middle of the sorted values, as run.sh's median. */
function median(values: number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

interface Row {
  runtime: Runtime;
  server: Runtime;
  scenario: Scenario;
  /** Per client (hybi, hybi-session, the peer's name): its runs. */
  runs: Map<string, ClientResult[]>;
  failures: string[];
}

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined ? "–" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? "–" : `${(a / b).toFixed(2)}×`;

function figures(row: Row, client: string): { mps?: number; cpu?: number; spread?: string } {
  const runs = row.runs.get(client) ?? [];
  if (runs.length === 0) return {};
  const mps = runs.map((r) => r.msgsPerS);
  const lo = Math.min(...mps), hi = Math.max(...mps);
  return {
    mps: median(mps),
    cpu: median(runs.map((r) => r.cpuUsPerMsg)),
    spread: `${fmt(lo)}–${fmt(hi)}`,
  };
}

function table(rows: Row[]): string[] {
  const out = [
    "| runtime | scenario | hybi msg/s | session msg/s | peer | peer msg/s | hybi ÷ peer | session ÷ peer | " +
    "hybi CPU µs/msg | session CPU µs/msg | peer CPU µs/msg |",
    "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const peer = PEER[row.runtime];
    const [h, s, p] = ["hybi", "hybi-session", peer].map((c) => figures(row, c));
    out.push(
      `| ${row.runtime} | ${row.scenario.name} | ${fmt(h.mps)} | ${fmt(s.mps)} | ${peer} | ${fmt(p.mps)} | ` +
        `${ratio(h.mps, p.mps)} | ${ratio(s.mps, p.mps)} | ${fmt(h.cpu, 2)} | ${fmt(s.cpu, 2)} | ${fmt(p.cpu, 2)} |`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const loadStart = systemLoad();
  const runDir = resolve(bench, `.out/client-${stamp(started)}`);
  mkdirSync(runDir, { recursive: true });
  const jsonl = resolve(runDir, "results.jsonl");
  writeFileSync(jsonl, "");
  const perRun = (pin ? 0.4 : 0.3) + WARMUP + SECS + 0.3;
  const total = runtimes.length * scenarios.length * clients.length * ROUNDS * perRun;
  console.error(
    `client echo benchmark: ${runtimes.join(", ")}; ${scenarios.map((s) => s.name).join(", ")}; ` +
      `${ROUNDS} × ${SECS} s per client; about ${Math.ceil(total / 60)} min. Raw: ${relative(root, runDir)}/`,
  );
  const rows: Row[] = [];
  for (const runtime of runtimes) {
    const serverRuntime = SERVER === "same" ? runtime : SERVER as Runtime;
    const server = await startServer(serverRuntime, resolve(runDir, `server-${runtime}.log`));
    try {
      for (const scenario of scenarios) {
        const row: Row = { runtime, server: serverRuntime, scenario, runs: new Map(), failures: [] };
        rows.push(row);
        const names = clients.map((c) => c === "peer" ? PEER[runtime] : c);
        for (let round = 1; round <= ROUNDS; round++) {
          for (const client of names) {
            const result = await runClient(runtime, client, server.port, scenario);
            if (typeof result === "string") {
              row.failures.push(`${client} round ${round}: ${result}`);
              console.error(`  ${runtime} ${scenario.name} ${client} #${round}: FAILED ${result}`);
              continue;
            }
            const runs = row.runs.get(client) ?? [];
            runs.push(result);
            row.runs.set(client, runs);
            const line = JSON.stringify({ ...result, scenario: scenario.name, server: serverRuntime, round });
            writeFileSync(jsonl, line + "\n", { flag: "a" });
            console.error(
              `  ${runtime} ${scenario.name} ${client} #${round}: ${fmt(result.msgsPerS)} msg/s, ` +
                `${result.cpuUsPerMsg.toFixed(2)} µs CPU/msg`,
            );
          }
        }
      }
    } finally {
      await server.stop();
    }
  }
  const loadEnd = systemLoad();
  console.log(["", ...table(rows)].join("\n"));
  const md = report(rows, started, loadStart, loadEnd, relative(root, runDir));
  const path = resolve(bench, "RESULTS-client.md");
  writeFileSync(path, md);
  spawnSync(bin("deno"), ["fmt", "--quiet", path], { cwd: root, stdio: "inherit" });
  console.error(`\nwrote ${relative(root, path)}`);
  if (rows.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

function report(rows: Row[], started: Date, loadStart: string, loadEnd: string, runDir: string): string {
  const env = [
    ["ROUNDS", String(ROUNDS)],
    ["SECS", String(SECS)],
    ["WARMUP", String(WARMUP)],
    ["RUNTIMES", runtimes.join(" ")],
    ["SCENARIOS", scenarios.map((s) => s.name).join(" ")],
    ["CLIENTS", clients.join(" ")],
    ["SERVER", SERVER],
  ].filter(([name]) => process.env[name] !== undefined).map(([name, value]) =>
    `${name}=${value.includes(" ") ? `"${value}"` : value}`
  );
  const command = [...env, "npm run bench:client"].join(" ");
  const out: string[] = ["# Client echo benchmark results (issue 13)", ""];
  out.push(
    "Written by `npm run bench:client` (bench/client_load.ts, which runs bench/client_echo.ts). hybi's `connect` " +
      "against each runtime's reference client, both talking to the same hybi echo server. Compare ratios measured " +
      "in the same run only; absolute figures move with the machine's load.",
    "",
  );
  if (!full) {
    out.push(
      `> **Smoke run** (${command}): it proves the benchmark runs end to end; the figures are indicative only. ` +
        "The measured run is `npm run bench:client` on a quiet machine.",
      "",
    );
  }
  if (busyAtStart(loadStart) || loadavgOf(loadEnd) > 3) {
    out.push(
      `> **The machine was busy** (load at start: ${loadStart}; at end: ${loadEnd}): other jobs competed for the ` +
        "CPUs, so even the ratios may be distorted.",
      "",
    );
  }
  out.push("## Run", "");
  out.push(`- Date: ${started.toISOString().replace("T", " ").slice(0, 16)} UTC`);
  out.push(
    `- Machine: ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} CPUs (shared with other jobs), ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB; Linux ${release()}`,
  );
  out.push(
    `- Runtimes: Node ${firstLine(bin("node"), ["--version"])} (ws ${packageVersion("ws")}, bufferutil ` +
      `${packageVersion("bufferutil")}), ${firstLine(bin("deno"), ["--version"])}, Bun ` +
      `${firstLine(bin("bun"), ["--version"])}`,
  );
  out.push(`- Command: \`${command}\``);
  out.push(
    `- Server: \`bench/client_echo.ts --serve\` (hybi's handler path, \`ws.send(data)\`, no extension) on ` +
      `${SERVER === "same" ? "the same runtime as the clients" : SERVER}, one process per runtime for all its ` +
      `clients${pin ? `, on CPU ${SERVER_CPU}` : ""}`,
  );
  out.push(
    `- Clients: one process per run${pin ? ` on CPU ${CLIENT_CPU}` : ""}; **hybi** = \`connect\` with ` +
      "`handlers` (`message` answers with `ws.send`), **session** = `connect`'s default session (`for await` " +
      "over `messages()`, `await sendBinary`), **peer** = `ws` (`perMessageDeflate: false`, bufferutil) on Node, " +
      "the global `WebSocket` on Deno and Bun. Binary messages, no compression; each echo answered with the next " +
      "message, so the window stays full",
  );
  out.push(
    `- Method: ${WARMUP} s warm-up, then round trips counted for ${SECS} s; ${ROUNDS} rounds of hybi, session, ` +
      "peer in turn against the same server; the table shows the median run. CPU µs/msg: the client process's " +
      "user + system time per round trip (steadier than msg/s on a busy machine)",
  );
  out.push(`- Load at start: ${loadStart}; at end: ${loadEnd}`);
  out.push(`- Raw results: \`${runDir}/results.jsonl\` (not committed)`, "");
  out.push("## Scenarios", "");
  for (const s of scenarios) out.push(`- \`${s.name}\`: ${s.what}`);
  out.push("", "## Results", "");
  out.push(...table(rows), "");
  out.push("Range of msg/s over the rounds (min–max):", "");
  out.push("| runtime | scenario | hybi | session | peer |", "|---|---|---|---|---|");
  for (const row of rows) {
    const cells = ["hybi", "hybi-session", PEER[row.runtime]].map((c) => figures(row, c).spread ?? "–");
    out.push(`| ${row.runtime} | ${row.scenario.name} | ${cells.join(" | ")} |`);
  }
  out.push("");
  const failures = rows.flatMap((r) => r.failures.map((f) => `${r.runtime} ${r.scenario.name} ${f}`));
  if (failures.length > 0) {
    out.push("## Failed runs", "", ...failures.map((f) => `- ${f}`), "");
  }
  return out.join("\n");
}

await main();
