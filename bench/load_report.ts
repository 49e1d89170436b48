/**
 * Turns one wsbench run (`results.jsonl` + `meta.json` in its folder, written
 * by `load.ts` and run.sh) into `RESULTS.md` and `ratios.svg` (when the run
 * has echo scenarios) and `RESULTS-broadcast.md` (when it has the broadcast
 * scenario: per runtime hybi's deliveries/s and fan-out p99 against the peer
 * with issue 12's targets, and every server's figures). RESULTS.md: per runtime,
 * hybi's handler path, its `for await` session and the floor (bench/floor/)
 * each against the runtime's peer, issue 11's targets beside the handler
 * path's ratios with a met/missed mark, the distance to the floor (hybi ÷
 * floor); every server against tcp-raw; absolute figures; idle memory.
 *
 * Rerun on an existing run without measuring again:
 *
 *   node bench/load_report.ts bench/.out/load-<time> [output folder, default bench/]
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  BROADCAST,
  BROADCAST_ENGINES,
  type BroadcastData,
  ENGINES,
  figure,
  type LoadData,
  MIN_BULK_VS_RAW,
  readBroadcast,
  readRun,
  SCENARIOS,
} from "./load_data.ts";
import { busyAtStart, loadavgOf } from "./run_info.ts";

/** The broadcast scenario's report, beside RESULTS.md. */
const BROADCAST_MD = "RESULTS-broadcast.md";
import { ratioChart } from "./ratio_chart.ts";

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || b === 0 ? null : a / b;
}

function mark(value: number | null, limit: number, atMost = false): string {
  if (value === null) return "– not measured";
  return (atMost ? value <= limit : value >= limit) ? "✓ met" : "✗ missed";
}

function x(value: number | null): string {
  return value === null ? "–" : `${value.toFixed(2)}×`;
}

/** Markdown of the whole report. */
export function renderMarkdown(data: LoadData, svgName: string): string {
  const { meta } = data;
  const s = meta.settings;
  const scenarios = s.SCENARIOS.split(" ").filter((x) => x !== "" && x !== BROADCAST);
  const out: string[] = [];
  const quick = s.RUNS !== "3" || s.SECS !== "5" || scenarios.length < 5 || s.SERVERS !== "all";
  out.push("# Load benchmark results", "");
  out.push(
    `Written by \`npm run bench:load\` (bench/load.ts, which runs the wsbench load generator's \`run.sh\`, found through \`WSBENCH_DIR\`). ` +
      "Compare ratios measured in the same run only; absolute figures move with the machine's load.",
    "",
  );
  if (quick) {
    out.push(
      `> **Partial or quick run** (RUNS=${s.RUNS}, SECS=${s.SECS}, SCENARIOS="${s.SCENARIOS}", ` +
        `SERVERS=${s.SERVERS}): indicative only, not a verdict on the targets.`,
      "",
    );
  }
  if (meta.hybiNote) out.push(`> **hybi rows missing:** ${meta.hybiNote}.`, "");
  out.push(
    `The broadcast scenario (issue 12: fan-out to 1,000 connections) is reported in [${BROADCAST_MD}](${BROADCAST_MD}), ` +
      "from the run named there: `npm run bench:load` writes both, `SCENARIOS=broadcast` only that one, so its run " +
      "may be newer than this one.",
    "",
  );
  if (busyAtStart(meta.loadStart) || loadavgOf(meta.loadEnd) > 3) {
    out.push(
      `> **The machine was busy** (load at start: ${meta.loadStart}; at end: ${meta.loadEnd}): another job competed ` +
        "for the CPUs, so even the ratios may be distorted. Rerun on a quiet machine before drawing conclusions.",
      "",
    );
  }

  out.push("## Run", "");
  out.push(`- Date: ${meta.date.replace("T", " ").slice(0, 16)} UTC (finished ${meta.finished.slice(11, 16)})`);
  out.push(`- Machine: ${meta.cpu}, ${meta.cores} CPUs, ${meta.memoryGiB} GiB; Linux ${meta.kernel}`);
  out.push(
    `- Runtimes: Node ${meta.versions.node} (ws ${meta.versions.ws}, bufferutil ${meta.versions.bufferutil}), ` +
      `${meta.versions.deno}, Bun ${meta.versions.bun}; wsbench built with ${meta.versions.gcc}`,
  );
  out.push(
    `- Method: server on CPU ${s.SERVER_CPU}, client on CPU ${s.CLIENT_CPU}; median of ${s.RUNS} × ${s.SECS} s ` +
      `after a ${s.WARMUP} s warm-up, servers interleaved round-robin; idle: ${s.IDLE_CONNS} connections held ` +
      `${s.IDLE_SECS} s, one server at a time`,
  );
  out.push(`- Load at start: ${meta.loadStart}; at end: ${meta.loadEnd}`);
  out.push(`- Raw results: \`${meta.runDir}/results.jsonl\` (not committed)`);
  out.push("- Servers:");
  for (const server of meta.servers) out.push(`  - \`${server.name}\`: ${server.command}`);
  out.push("");

  out.push("## hybi against the targets (issue 11)", "");
  out.push(`![ratios of each hybi path and floor to its peer, and of every server to tcp-raw](${svgName})`, "");
  out.push(
    "Per runtime: **hybi** is the handler path (`examples/echo.ts --api handlers`; the targets apply to it), " +
      "**session** the `for await` default session (`--api session`), **floor** the bare echo of `bench/floor/` " +
      "over the runtime's own sockets (no validation: the least a JavaScript echo does), **peer** the runtime's " +
      "reference server. Ratios are to the peer in the same run (msgs/s unless noted; for p99 and idle memory " +
      "lower is better); **hybi ÷ floor** is the distance to the floor. The bulk ÷ tcp-raw row divides by the raw " +
      "TCP echo instead of the peer. The last column is the session path's ratio (idle: KiB/conn) in issue 6's " +
      "final run (2026-11-28, before the handler path existed; another run, so ±30 %): the session should not have " +
      "got slower.",
    "",
  );
  let met = 0, missed = 0, unmeasured = 0;
  const count = (m: string): string => {
    if (m.startsWith("✓")) met++;
    else if (m.startsWith("✗")) missed++;
    else unmeasured++;
    return m;
  };
  const hasEngines = ENGINES.some((e) => [e.name, e.session, e.floor].some((n) => data.servers.includes(n)));
  for (const engine of ENGINES) {
    const rows = [engine.name, engine.session, engine.floor, engine.peer];
    if (!rows.some((n) => data.servers.includes(n))) continue;
    out.push(
      `### ${engine.runtime}: \`${engine.name}\`, \`${engine.session}\`, \`${engine.floor}\` vs \`${engine.peer}\``,
      "",
    );
    out.push(
      "| scenario | hybi | session | floor | peer | hybi ÷ peer | target | met? | session ÷ peer | floor ÷ peer | " +
        "hybi ÷ floor | session ÷ floor | session, 11-28 |",
    );
    out.push("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|");
    const cell = (v: number | undefined, digits = 0): string => v === undefined ? "–" : fmt(v, digits);
    const line = (
      label: string,
      pick: (server: string) => number | undefined,
      ref: string,
      target: string,
      verdict: string,
      digits: number,
      before: string,
      distance = true,
    ): void => {
      const [own, session, floor, peer] = [engine.name, engine.session, engine.floor, ref].map(pick);
      out.push(
        `| ${label} | ${cell(own, digits)} | ${cell(session, digits)} | ${cell(floor, digits)} | ` +
          `${cell(peer, digits)} | ${x(ratio(own, peer))} | ${target} | ${verdict} | ` +
          `${x(ratio(session, peer))} | ${x(ratio(floor, peer))} | ${distance ? x(ratio(own, floor)) : ""} | ` +
          `${distance ? x(ratio(session, floor)) : ""} | ${before} |`,
      );
    };
    const mps = (scenario: string) => (server: string) => figure(data, server, scenario)?.mps;
    for (const scenario of SCENARIOS) {
      if (!scenarios.includes(scenario)) continue;
      const peerRatio = ratio(mps(scenario)(engine.name), mps(scenario)(engine.peer));
      const target = engine.minVsPeer[scenario];
      line(
        scenario,
        mps(scenario),
        engine.peer,
        `≥ ${target}×`,
        count(mark(peerRatio, target)),
        0,
        x(engine.issue6[scenario]),
      );
      if (scenario === "small") {
        const p99 = (server: string) => figure(data, server, "small")?.p99;
        const limit = engine.maxSmallP99VsPeer;
        line(
          "small p99 µs",
          p99,
          engine.peer,
          `≤ ${limit}×`,
          count(mark(ratio(p99(engine.name), p99(engine.peer)), limit, true)),
          0,
          x(engine.issue6.p99),
        );
      }
      if (scenario === "bulk") {
        const vsRaw = ratio(mps("bulk")(engine.name), mps("bulk")("tcp-raw"));
        line(
          "bulk ÷ tcp-raw",
          mps("bulk"),
          "tcp-raw",
          `≥ ${MIN_BULK_VS_RAW}×`,
          count(mark(vsRaw, MIN_BULK_VS_RAW)),
          0,
          x(engine.issue6.bulkVsRaw),
          false,
        );
      }
    }
    if (scenarios.includes("idle")) {
      const kib = (server: string) => data.idle.get(server)?.kibPerConn;
      line(
        "idle KiB/conn",
        kib,
        engine.peer,
        `≤ ${engine.maxIdleKiB} KiB`,
        count(mark(kib(engine.name) ?? null, engine.maxIdleKiB, true)),
        2,
        `${engine.issue6.idleKiB.toFixed(2)} KiB`,
      );
    }
    out.push("");
  }
  if (hasEngines) {
    out.push(
      `Targets (issue 11, handler path): ${met} met, ${missed} missed${
        unmeasured ? `, ${unmeasured} not measured` : ""
      }` + (quick ? " (quick run: indicative only)." : "."),
      "",
    );
  } else {
    out.push("No hybi or floor row in this run.", "");
  }

  out.push("## Every server against tcp-raw", "");
  out.push("msgs/s ÷ tcp-raw msgs/s in the same run. tcp-raw does no WebSocket work: its row is the ceiling of the");
  out.push("machine and of the single-threaded client (see wsbench's README).", "");
  const shown = SCENARIOS.filter((sc) => scenarios.includes(sc));
  out.push(`| server | ${shown.join(" | ")} |`);
  out.push(`|---|${shown.map(() => "---:").join("|")}|`);
  for (const server of data.servers) {
    const cells = shown.map((sc) => x(ratio(figure(data, server, sc)?.mps, figure(data, "tcp-raw", sc)?.mps)));
    out.push(`| ${server} | ${cells.join(" | ")} |`);
  }
  out.push("");

  out.push("## Absolute figures", "");
  out.push("| server | scenario | runs | msgs/s | MB/s | p50 µs | p99 µs | errors |");
  out.push("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const server of data.servers) {
    for (const scenario of shown) {
      const f = figure(data, server, scenario);
      out.push(
        f
          ? `| ${server} | ${scenario} | ${f.runs} | ${fmt(f.mps)} | ${fmt(f.mbps, 2)} | ${fmt(f.p50)} | ${
            fmt(f.p99)
          } | ${f.errors} |`
          : `| ${server} | ${scenario} | 0 | no result (failed to start, crashed or timed out: see ${meta.runDir}/) | | | | |`,
      );
    }
  }
  out.push("");
  if (scenarios.includes("idle")) {
    out.push("## Idle connections", "");
    out.push(
      `${s.IDLE_CONNS} connections held ${s.IDLE_SECS} s; server VmRSS before connecting, with all open, and at`,
    );
    out.push("the end of the hold (user-space memory only, one measurement, not a median).", "");
    out.push(
      "| server | open at end | connect s | RSS before MiB | RSS all-open MiB | RSS end MiB | KiB/conn | errors |",
    );
    out.push("|---|---:|---:|---:|---:|---:|---:|---:|");
    const mib = (kib: number): string => (kib / 1024).toFixed(1);
    for (const server of data.servers) {
      const f = data.idle.get(server);
      out.push(
        f
          ? `| ${server} | ${f.openAtEnd} | ${f.connectS.toFixed(3)} | ${mib(f.rssBeforeKiB)} | ${
            mib(f.rssOpenKiB)
          } | ${mib(f.rssAfterKiB)} | ${f.kibPerConn.toFixed(2)} | ${f.errors} |`
          : `| ${server} | no result | | | | | | |`,
      );
    }
    out.push("");
  }
  return out.join("\n") + "\n";
}

/** Markdown of the broadcast scenario's report. */
export function renderBroadcastMarkdown(data: BroadcastData): string {
  const { meta } = data;
  const s = meta.settings;
  const conns = s.BCAST_CONNS ?? "1000";
  const out: string[] = [];
  const quick = s.RUNS !== "3" || s.SECS !== "5" || conns !== "1000" || s.SERVERS !== "all";
  out.push("# Broadcast benchmark results (issue 12)", "");
  out.push(
    `Written by \`npm run bench:load\` (bench/load.ts, which runs the wsbench load generator's \`run.sh\` with ` +
      "`SCENARIOS=broadcast` in an invocation of its own). The echo scenarios are in [RESULTS.md](RESULTS.md). " +
      "Compare ratios measured in the same run only; absolute figures move with the machine's load.",
    "",
  );
  if (quick) {
    out.push(
      `> **Partial or quick run** (RUNS=${s.RUNS}, SECS=${s.SECS}, BCAST_CONNS=${conns}, SERVERS=${s.SERVERS}): ` +
        "indicative only, not a verdict on the targets.",
      "",
    );
  }
  if (busyAtStart(meta.loadStart) || loadavgOf(meta.loadEnd) > 3) {
    out.push(
      `> **The machine was busy** (load at start: ${meta.loadStart}; at end: ${meta.loadEnd}): another job competed ` +
        "for the CPUs, so even the ratios may be distorted. Rerun on a quiet machine before drawing conclusions.",
      "",
    );
  }

  out.push("## Run", "");
  out.push(`- Date: ${meta.date.replace("T", " ").slice(0, 16)} UTC (finished ${meta.finished.slice(11, 16)})`);
  out.push(`- Machine: ${meta.cpu}, ${meta.cores} CPUs, ${meta.memoryGiB} GiB; Linux ${meta.kernel}`);
  out.push(
    `- Runtimes: Node ${meta.versions.node} (ws ${meta.versions.ws}, bufferutil ${meta.versions.bufferutil}), ` +
      `${meta.versions.deno}, Bun ${meta.versions.bun}; wsbench built with ${meta.versions.gcc}`,
  );
  out.push(
    `- Scenario: ${conns} connections, ${s.BCAST_PUBLISHERS ?? "1"} publisher(s), ${s.BCAST_SIZE ?? "32"} B text, ` +
      `${s.BCAST_DEPTH ?? "4"} publishes in flight in total; every message a connection sends goes to all open ` +
      "connections, the sender included; a publish is done when every connection received it. Deliveries/s = " +
      "messages received per second over all connections; latency = from a publish's send to each delivery " +
      "(fan-out latency, mostly queueing: about depth ÷ publishes/s)",
  );
  out.push(
    `- Method: server on CPU ${s.SERVER_CPU}, client on CPU ${s.CLIENT_CPU}; median of ${s.RUNS} × ${s.SECS} s ` +
      `after a ${s.WARMUP} s warm-up, servers interleaved round-robin`,
  );
  out.push(`- Load at start: ${meta.loadStart}; at end: ${meta.loadEnd}`);
  out.push(`- Raw results: \`${meta.runDir}/${BROADCAST}/results.jsonl\` (not committed)`);
  out.push("- Servers:");
  for (const server of meta.broadcastServers ?? []) out.push(`  - \`${server.name}\`: ${server.command}`);
  out.push("");

  out.push("## hybi against the targets", "");
  out.push(
    "**hybi** is `examples/broadcast.ts`: each connection subscribes to one topic in `open`, and `message` calls " +
      "`server.publish` on it, so a message is framed once and the same bytes are queued on every subscriber. " +
      "Ratios are to the runtime's peer in the same run (p99: lower is better). The peers: " +
      BROADCAST_ENGINES.map((e) => `\`${e.peer}\` (${e.runtime}), ${e.peerLabel}`).join("; ") + ".",
    "",
  );
  out.push("| runtime | measure | hybi | peer | hybi ÷ peer | target | met? |");
  out.push("|---|---|---:|---:|---:|---|---|");
  let met = 0, missed = 0, unmeasured = 0;
  const count = (m: string): string => {
    if (m.startsWith("✓")) met++;
    else if (m.startsWith("✗")) missed++;
    else unmeasured++;
    return m;
  };
  const cell = (v: number | undefined): string => v === undefined ? "–" : fmt(v);
  for (const engine of BROADCAST_ENGINES) {
    if (![engine.name, engine.peer].some((n) => data.servers.includes(n))) continue;
    const own = data.figures.get(engine.name), peer = data.figures.get(engine.peer);
    const dps = ratio(own?.dps, peer?.dps), p99 = ratio(own?.p99, peer?.p99);
    out.push(
      `| ${engine.runtime} vs \`${engine.peer}\` | deliveries/s | ${cell(own?.dps)} | ${cell(peer?.dps)} | ` +
        `${x(dps)} | ≥ ${engine.minVsPeer}× | ${count(mark(dps, engine.minVsPeer))} |`,
    );
    out.push(
      `| ${engine.runtime} vs \`${engine.peer}\` | fan-out p99 µs | ${cell(own?.p99)} | ${cell(peer?.p99)} | ${
        x(p99)
      } | ` +
        `≤ ${engine.maxP99VsPeer}× | ${count(mark(p99, engine.maxP99VsPeer, true))} |`,
    );
  }
  out.push("");
  out.push(
    `Targets (issue 12): ${met} met, ${missed} missed${unmeasured ? `, ${unmeasured} not measured` : ""}` +
      (quick ? " (quick run: indicative only)." : "."),
    "",
  );
  out.push(
    "The client is one thread that must receive every delivery, so it caps at roughly 0.4 M deliveries/s on this " +
      "machine (wsbench's README): near that, a row is bounded by the client rather than the server, and the ratio " +
      "between two such rows says little.",
    "",
  );

  out.push("## Absolute figures", "");
  const ref = data.figures.get("bun")?.dps;
  out.push("| server | runs | publishes/s | deliveries/s | MB/s | p50 µs | p99 µs | errors | ÷ bun |");
  out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const server of data.servers) {
    const f = data.figures.get(server);
    out.push(
      f && f.runs > 0
        ? `| ${server} | ${f.runs} | ${fmt(f.pps)} | ${fmt(f.dps)} | ${fmt(f.mbps, 2)} | ${fmt(f.p50)} | ${
          fmt(f.p99)
        } | ${f.errors}${f.unsynced ? ` (${f.unsynced} run(s) never synced)` : ""} | ${x(ratio(f.dps, ref))} |`
        : `| ${server} | 0 | no result (failed to start, crashed, timed out or never synced: see ${meta.runDir}/${BROADCAST}/) | | | | | | |`,
    );
  }
  out.push("");
  return out.join("\n") + "\n";
}

/**
 * Writes the reports a run has into `outDir`: `RESULTS.md` and `ratios.svg` when it measured echo scenarios,
 * `RESULTS-broadcast.md` when it measured the broadcast scenario; returns their paths.
 */
export function writeReport(runDir: string, outDir: string): string[] {
  const written: string[] = [];
  const data = existsSync(resolve(runDir, "results.jsonl")) ? readRun(runDir) : null;
  if (data && data.meta.settings.SCENARIOS.split(" ").some((sc) => sc !== "" && sc !== BROADCAST)) {
    const md = resolve(outDir, "RESULTS.md");
    const svg = resolve(outDir, "ratios.svg");
    writeFileSync(md, renderMarkdown(data, "ratios.svg"));
    writeFileSync(svg, ratioChart(data));
    written.push(md, svg);
  }
  const broadcast = readBroadcast(runDir);
  if (broadcast) {
    const md = resolve(outDir, BROADCAST_MD);
    writeFileSync(md, renderBroadcastMarkdown(broadcast));
    written.push(md);
  }
  // The project's formatter owns Markdown and SVG layout; formatted output keeps `deno fmt --check` clean.
  // (It skips bench/.out/, where a report drawn beside its run's raw results may go.)
  const root = fileURLToPath(new URL("..", import.meta.url));
  const deno = resolve(root, "node_modules/.bin/deno");
  const excluded = relative(root, resolve(outDir)).split(sep).slice(0, 2).join("/") === "bench/.out";
  if (existsSync(deno) && !excluded && written.length > 0) {
    spawnSync(deno, ["fmt", "--quiet", ...written], { cwd: root, stdio: "inherit" });
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [runDir, outDir] = process.argv.slice(2);
  if (!runDir) {
    console.error("usage: node bench/load_report.ts <run folder> [output folder]");
    process.exit(2);
  }
  const written = writeReport(resolve(runDir), resolve(outDir ?? fileURLToPath(new URL(".", import.meta.url))));
  console.log(`wrote ${written.join(" and ")}`);
}
