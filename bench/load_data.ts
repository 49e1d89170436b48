/**
 * A wsbench run as data: what `load.ts` records (`meta.json`), run.sh's raw
 * results (`results.jsonl`; the broadcast scenario's in `broadcast/`) reduced
 * to medians, issue 11's targets (echo) and issue 12's (broadcast).
 */
import { existsSync, readFileSync } from "node:fs";
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
  /**
   * The broadcast scenario's servers (its own run.sh invocation, raw results in `<runDir>/broadcast/`); absent in
   * runs from before issue 12.
   */
  broadcastServers?: { name: string; command: string }[];
  /** Why the hybi rows are missing, if they are. */
  hybiNote: string | null;
  wsbenchDir: string;
  runDir: string;
  loadStart: string;
  loadEnd: string;
  finished: string;
}

/** The fan-out scenario (issue 12): measured by its own run.sh invocation, reported in `RESULTS-broadcast.md`. */
export const BROADCAST = "broadcast";

/** Throughput scenarios in table order. */
export const SCENARIOS = ["small", "pipelined", "bulk", "large"] as const;
/** One of {@linkcode SCENARIOS}. */
export type Scenario = typeof SCENARIOS[number];

/**
 * A runtime's rows: hybi's handler path (the targets apply to it), hybi's
 * `for await` default session, the floor (`bench/floor/`: a bare echo over the
 * runtime's own sockets, no validation), the peer they are compared with, and
 * issue 11's targets.
 */
export interface Engine {
  /** hybi's handler path (`examples/echo.ts --api handlers`). */
  name: string;
  runtime: string;
  /** hybi's `for await` default session (`examples/echo.ts --api session`). */
  session: string;
  /** The bare echo of `bench/floor/`. */
  floor: string;
  peer: string;
  /** Lowest msgs/s ratio to the peer, per scenario. */
  minVsPeer: Record<Scenario, number>;
  /** Highest small-scenario p99 latency, relative to the peer's p99. */
  maxSmallP99VsPeer: number;
  /** Highest idle memory, KiB per connection. */
  maxIdleKiB: number;
  /**
   * The `for await` session (then the echo's only path) in issue 6's final
   * run: ratios to the peer, bulk ÷ tcp-raw, idle KiB per connection (2026-11-28 05:35 UTC, `bench/RESULTS.md` at
   * commit 1802a5b), for a look at whether the session got faster; another
   * run on a shared machine, so ±30 %.
   */
  issue6: Record<Scenario | "p99" | "bulkVsRaw" | "idleKiB", number>;
}

/** Issue 11's targets. */
export const ENGINES: Engine[] = [
  {
    name: "hybi-node",
    runtime: "Node",
    session: "hybi-node-session",
    floor: "floor-node",
    peer: "ws",
    minVsPeer: { small: 1.3, pipelined: 10, bulk: 1.2, large: 1.0 },
    maxSmallP99VsPeer: 1.0,
    maxIdleKiB: 4,
    issue6: { small: 0.81, pipelined: 4.91, bulk: 0.92, large: 1.07, p99: 1.29, bulkVsRaw: 0.21, idleKiB: 17.29 },
  },
  {
    name: "hybi-deno",
    runtime: "Deno",
    session: "hybi-deno-session",
    floor: "floor-deno",
    peer: "deno",
    minVsPeer: { small: 0.95, pipelined: 8, bulk: 1.0, large: 1.0 },
    maxSmallP99VsPeer: 1.2,
    maxIdleKiB: 8,
    issue6: { small: 0.80, pipelined: 7.53, bulk: 0.80, large: 1.20, p99: 1.43, bulkVsRaw: 0.18, idleKiB: 18.75 },
  },
  {
    name: "hybi-bun",
    runtime: "Bun",
    session: "hybi-bun-session",
    floor: "floor-bun",
    peer: "bun",
    minVsPeer: { small: 0.8, pipelined: 0.8, bulk: 1.0, large: 1.0 },
    maxSmallP99VsPeer: 1.2,
    maxIdleKiB: 2.5,
    issue6: { small: 0.81, pipelined: 0.35, bulk: 0.89, large: 0.90, p99: 1.67, bulkVsRaw: 0.26, idleKiB: 8.72 },
  },
];
/** Every runtime's bulk throughput (handler path) relative to the raw TCP echo. */
export const MIN_BULK_VS_RAW = 0.35;

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

/**
 * A runtime's broadcast rows: hybi's `examples/broadcast.ts` (`server.publish` on one topic) against the runtime's
 * broadcast peer, and issue 12's targets.
 */
export interface BroadcastEngine {
  /** hybi's broadcast server (`examples/broadcast.ts`). */
  name: string;
  runtime: string;
  /** The peer's row name in run.sh's broadcast scenario. */
  peer: string;
  /** What the peer does, for the report. */
  peerLabel: string;
  /** Lowest deliveries/s ratio to the peer. */
  minVsPeer: number;
  /** Highest fan-out p99 latency relative to the peer's. */
  maxP99VsPeer: number;
}

/** Issue 12's targets (broadcast scenario, 1,000 subscribers, ratios to the peer in the same run). */
export const BROADCAST_ENGINES: BroadcastEngine[] = [
  {
    name: "hybi-node",
    runtime: "Node",
    peer: "ws",
    peerLabel: "ws + bufferutil looping over `wss.clients`",
    minVsPeer: 2,
    maxP99VsPeer: 1.0,
  },
  {
    name: "hybi-deno",
    runtime: "Deno",
    peer: "deno",
    peerLabel: "`Deno.serve` + `Deno.upgradeWebSocket` looping over a `Set` of its sockets",
    minVsPeer: 1.5,
    maxP99VsPeer: 1.0,
  },
  {
    name: "hybi-bun",
    runtime: "Bun",
    peer: "bun",
    peerLabel: "`Bun.serve` with every connection subscribed to one topic and `server.publish`",
    minVsPeer: 0.9,
    maxP99VsPeer: 1.0,
  },
];

/** Medians over the runs of one server in the broadcast scenario. */
export interface BroadcastFigures {
  runs: number;
  /** Publishes completed (reached every connection) per second. */
  pps: number;
  /** Messages received per second over all connections. */
  dps: number;
  mbps: number;
  /** Latency from a publish's send to each delivery. */
  p50: number;
  p99: number;
  errors: number;
  /** Runs whose warm-up publish never reached every connection (nothing measured). */
  unsynced: number;
}

/** A run's broadcast scenario. */
export interface BroadcastData {
  meta: LoadMeta;
  servers: string[];
  figures: Map<string, BroadcastFigures>;
}

/** The folder of a run's broadcast results. */
export function broadcastDir(runDir: string): string {
  return resolve(runDir, BROADCAST);
}

/** Reads a run's broadcast results, or null when the run has none. */
export function readBroadcast(runDir: string): BroadcastData | null {
  const file = resolve(broadcastDir(runDir), "results.jsonl");
  if (!existsSync(file)) return null;
  const meta = JSON.parse(readFileSync(resolve(runDir, "meta.json"), "utf8")) as LoadMeta;
  const rows = readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((r) => r.scenario === BROADCAST);
  const groups = new Map<string, Record<string, number | string>[]>();
  for (const row of rows) groups.set(String(row.server), [...groups.get(String(row.server)) ?? [], row]);
  const figures = new Map<string, BroadcastFigures>();
  for (const [server, all] of groups) {
    // A run whose warm-up publish never reached every connection measured nothing: left out of the medians.
    const synced = all.filter((r) => Number(r.synced) !== 0);
    const group = synced.length > 0 ? synced : all;
    const pick = (field: string): number[] => group.map((r) => Number(r[field]));
    figures.set(server, {
      runs: synced.length,
      pps: median(pick("publishes_per_s")),
      dps: median(pick("deliveries_per_s")),
      mbps: median(pick("mb_per_s")),
      p50: median(pick("p50_us")),
      p99: median(pick("p99_us")),
      errors: all.map((r) => Number(r.errors)).reduce((a, b) => a + b, 0),
      unsynced: all.length - synced.length,
    });
  }
  return { meta, servers: (meta.broadcastServers ?? []).map((s) => s.name), figures };
}
