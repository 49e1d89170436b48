/**
 * A wsbench run as data: what `load.ts` records (`meta.json`), run.sh's raw
 * results (`results.jsonl`) reduced to medians, and issue 6's targets.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/** What `load.ts` records about a run beside run.sh's raw results. */
export interface LoadMeta {
  date: string;
  cpu: string;
  cores: number;
  kernel: string;
  memoryGiB: number;
  versions: Record<string, string>;
  settings: Record<string, string>;
  /** Servers in table order: name, and the command as shown (paths relative to the project). */
  servers: { name: string; command: string }[];
  /** Why the hybi rows are missing, if they are. */
  hybiNote: string | null;
  wsbenchDir: string;
  runDir: string;
  loadStart: string;
  loadEnd: string;
  finished: string;
}

/** Throughput scenarios in table order. */
export const SCENARIOS = ["small", "pipelined", "bulk", "large"] as const;
/** One of {@linkcode SCENARIOS}. */
export type Scenario = typeof SCENARIOS[number];

/** A hybi engine, the peer it is compared with, and the targets. */
export interface Engine {
  name: string;
  runtime: string;
  peer: string;
  /** Lowest msgs/s ratio to the peer, per scenario. */
  minVsPeer: Record<Scenario, number>;
  /** Highest idle memory, KiB per connection. */
  maxIdleKiB: number;
}

/** Issue 6's targets. */
export const ENGINES: Engine[] = [
  {
    name: "hybi-node",
    runtime: "Node",
    peer: "ws",
    minVsPeer: { small: 1.2, pipelined: 10, bulk: 1.2, large: 1.0 },
    maxIdleKiB: 4,
  },
  {
    name: "hybi-deno",
    runtime: "Deno",
    peer: "deno",
    minVsPeer: { small: 1.0, pipelined: 8, bulk: 1.0, large: 1.0 },
    maxIdleKiB: 4,
  },
  {
    name: "hybi-bun",
    runtime: "Bun",
    peer: "bun",
    minVsPeer: { small: 0.9, pipelined: 0.9, bulk: 0.8, large: 0.8 },
    maxIdleKiB: 2,
  },
];
/** Every runtime's bulk throughput relative to the raw TCP echo. */
export const MIN_BULK_VS_RAW = 0.35;
/** p99 latency on small, relative to the peer's p99. */
export const MAX_SMALL_P99_VS_PEER = 1.0;

/** Medians over the runs of one server in one scenario. */
export interface Figures {
  runs: number;
  mps: number;
  mbps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** One idle-scenario measurement. */
export interface IdleFigures {
  openAtEnd: number;
  connectS: number;
  rssBeforeKiB: number;
  rssOpenKiB: number;
  rssAfterKiB: number;
  kibPerConn: number;
  errors: number;
}

/** Everything a report is drawn from. */
export interface LoadData {
  meta: LoadMeta;
  servers: string[];
  echo: Map<string, Figures>;
  idle: Map<string, IdleFigures>;
}

/** `loadavg a b c, cpu pressure some avg60=x%`, as run.sh prints it. */
export function systemLoad(): string {
  let text = "";
  try {
    text = `loadavg ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`;
    const psi = readFileSync("/proc/pressure/cpu", "utf8").split("\n")[0];
    const at = psi.indexOf("avg60=");
    if (at >= 0) text += `, cpu pressure some avg60=${psi.slice(at + 6).split(" ")[0]}%`;
  } catch {
    // Not Linux, or no PSI: what was read so far is all there is.
  }
  return text || "unknown";
}

/** Lower middle of the sorted values, as run.sh's median. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

const key = (server: string, scenario: string): string => `${server}/${scenario}`;

/** Reads a run folder. */
export function readRun(runDir: string): LoadData {
  const meta = JSON.parse(readFileSync(resolve(runDir, "meta.json"), "utf8")) as LoadMeta;
  const lines = readFileSync(resolve(runDir, "results.jsonl"), "utf8").split("\n").filter((l) => l.startsWith("{"));
  const rows = lines.map((l) => JSON.parse(l) as Record<string, number | string>);
  const echo = new Map<string, Figures>();
  const idle = new Map<string, IdleFigures>();
  const groups = new Map<string, Record<string, number | string>[]>();
  for (const row of rows) {
    if (row.scenario === "idle") {
      idle.set(String(row.server), {
        openAtEnd: Number(row.open_at_end),
        connectS: Number(row.connect_s),
        rssBeforeKiB: Number(row.rss_before_kb),
        rssOpenKiB: Number(row.rss_open_kb),
        rssAfterKiB: Number(row.rss_after_kb),
        kibPerConn: Number(row.kib_per_conn),
        errors: Number(row.errors),
      });
      continue;
    }
    const k = key(String(row.server), String(row.scenario));
    groups.set(k, [...groups.get(k) ?? [], row]);
  }
  for (const [k, group] of groups) {
    const pick = (field: string): number[] => group.map((r) => Number(r[field]));
    echo.set(k, {
      runs: group.length,
      mps: median(pick("msgs_per_s")),
      mbps: median(pick("mb_per_s")),
      p50: median(pick("p50_us")),
      p99: median(pick("p99_us")),
      errors: pick("errors").reduce((a, b) => a + b, 0),
    });
  }
  return { meta, servers: meta.servers.map((s) => s.name), echo, idle };
}

/** The figure, if measured. */
export function figure(data: LoadData, server: string, scenario: string): Figures | undefined {
  return data.echo.get(key(server, scenario));
}
