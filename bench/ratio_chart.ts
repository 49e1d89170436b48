/**
 * The SVG bar chart of a load run (hand-written SVG, no dependencies): per
 * scenario, hybi's handler path, its `for await` session and the floor ÷ the
 * runtime's peer on a log scale with the handler path's targets marked, every
 * server ÷ tcp-raw, and idle memory per connection.
 */
import { type Engine, ENGINES, figure, type LoadData, MIN_BULK_VS_RAW, SCENARIOS } from "./load_data.ts";

interface Target {
  value: number;
  /** true: the value must stay at or below the target (memory, latency). */
  atMost: boolean;
}

interface Bar {
  label: string;
  value: number | null;
  color: string;
  /** Suffix of the printed value, e.g. "×" or " KiB". */
  unit: string;
  target?: Target;
}

interface Group {
  title: string;
  bars: Bar[];
}

interface Scale {
  log: boolean;
  min: number;
  max: number;
  /** Where bars start: 1 on the ratio scale (above = better than the peer), 0 on linear ones. */
  origin: number;
  ticks: number[];
}

const WIDTH = 820;
const LABEL = 200;
const PLOT = 470;
const ROW = 15;
const GROUP_GAP = 9;
const MET = "#15803d";
const MISSED = "#b91c1c";
const COLORS: Record<string, string> = {
  "hybi-node": "#3c873a",
  "hybi-node-session": "#7cb87a",
  "floor-node": "#1f4d1e",
  ws: "#a3cfa1",
  "hybi-deno": "#2563eb",
  "hybi-deno-session": "#6b93f0",
  "floor-deno": "#1e3a8a",
  deno: "#c3d4f7",
  "hybi-bun": "#d97706",
  "hybi-bun-session": "#f0a54a",
  "floor-bun": "#7c4a03",
  bun: "#f3d9b1",
  "tcp-raw": "#9ca3af",
};

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function text(x: number, y: number, content: string, attrs = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escape(content)}</text>`;
}

function position(scale: Scale, v: number): number {
  const clamped = Math.min(Math.max(v, scale.min), scale.max);
  const t = scale.log
    ? (Math.log(clamped) - Math.log(scale.min)) / (Math.log(scale.max) - Math.log(scale.min))
    : (clamped - scale.min) / (scale.max - scale.min);
  return LABEL + t * PLOT;
}

function logScale(values: number[]): Scale {
  const lo = Math.min(0.5, ...values) * 0.9;
  const hi = Math.max(2, ...values) * 1.1;
  const min = 2 ** Math.floor(Math.log2(lo));
  const max = 2 ** Math.ceil(Math.log2(hi));
  const ticks: number[] = [];
  for (let t = min; t <= max * 1.0001; t *= 2) ticks.push(t);
  return { log: true, min, max, origin: 1, ticks };
}

function linearScale(values: number[]): Scale {
  const top = Math.max(1, ...values) * 1.05;
  // The smallest step that keeps the axis to at most 8 ticks.
  const step = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100].find((s) => top / s <= 8) ?? 10 ** Math.ceil(Math.log10(top / 8));
  const max = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= max + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
  return { log: false, min: 0, max, origin: 0, ticks };
}

function tickLabel(t: number): string {
  return t >= 1 ? String(t) : String(Number(t.toPrecision(2)));
}

/** One titled panel at `top`; returns its SVG and height. */
function panel(top: number, title: string, note: string, groups: Group[], scale: Scale): [string, number] {
  const parts: string[] = [];
  let y = top;
  parts.push(text(12, y + 14, title, 'font-size="14" font-weight="bold"'));
  parts.push(text(12, y + 30, note, 'font-size="11" fill="#555"'));
  y += 44;
  const plotTop = y;
  let rowsHeight = 0;
  for (const group of groups) rowsHeight += 14 + group.bars.length * ROW + GROUP_GAP;
  for (const t of scale.ticks) {
    const px = position(scale, t);
    const strong = t === scale.origin;
    parts.push(
      `<line x1="${px.toFixed(1)}" y1="${plotTop - 4}" x2="${px.toFixed(1)}" y2="${plotTop + rowsHeight}" ` +
        `stroke="${strong ? "#333" : "#ddd"}" stroke-width="${strong ? 1.2 : 1}"${
          strong && scale.log ? ' stroke-dasharray="4 3"' : ""
        }/>`,
    );
    parts.push(text(px, plotTop + rowsHeight + 12, tickLabel(t), 'font-size="10" text-anchor="middle" fill="#555"'));
  }
  for (const group of groups) {
    parts.push(text(12, y + 11, group.title, 'font-size="11" font-weight="bold"'));
    y += 14;
    for (const bar of group.bars) {
      parts.push(text(LABEL - 8, y + 11, bar.label, 'font-size="11" text-anchor="end"'));
      if (bar.value === null) {
        parts.push(text(LABEL + 4, y + 11, "not measured", 'font-size="10" fill="#888" font-style="italic"'));
      } else {
        const a = position(scale, scale.origin);
        const b = position(scale, bar.value);
        const left = Math.min(a, b);
        parts.push(
          `<rect x="${left.toFixed(1)}" y="${y + 2}" width="${Math.max(1, Math.abs(b - a)).toFixed(1)}" ` +
            `height="${ROW - 4}" fill="${bar.color}"/>`,
        );
        let label = `${bar.value.toFixed(2)}${bar.unit}`;
        let color = "#222";
        if (bar.target) {
          const ok = bar.target.atMost ? bar.value <= bar.target.value : bar.value >= bar.target.value;
          label += ok ? " ✓" : " ✗";
          color = ok ? MET : MISSED;
          const tx = position(scale, bar.target.value);
          parts.push(
            `<line x1="${tx.toFixed(1)}" y1="${y}" x2="${tx.toFixed(1)}" y2="${
              y + ROW
            }" stroke="#111" stroke-width="2"/>`,
          );
        }
        // Values sit in their own column, clear of bars and target ticks.
        parts.push(text(LABEL + PLOT + 12, y + 11, label, `font-size="10" fill="${color}"`));
      }
      y += ROW;
    }
    y += GROUP_GAP;
  }
  y += 18;
  return [parts.join("\n"), y - top];
}

/** The whole chart for a run. */
export function ratioChart(data: LoadData): string {
  const scenarios = data.meta.settings.SCENARIOS.split(" ");
  const shown = SCENARIOS.filter((s) => scenarios.includes(s));
  const engines = ENGINES.filter((e) => [e.name, e.session, e.floor].some((n) => data.servers.includes(n)));
  // Per runtime, the measured ones of handler path, session and floor; the targets go with the handler path.
  const rowsOf = (e: Engine): string[] => [e.name, e.session, e.floor].filter((n) => data.servers.includes(n));
  const parts: string[] = [];
  let y = 10;

  parts.push(
    text(
      12,
      y + 14,
      `hybi load benchmark — ${data.meta.date.slice(0, 16).replace("T", " ")} UTC, ${data.meta.cpu}, ` +
        `median of ${data.meta.settings.RUNS} × ${data.meta.settings.SECS} s`,
      'font-size="13" fill="#333"',
    ),
  );
  y += 26;

  if (engines.length > 0) {
    const groups: Group[] = [];
    for (const scenario of shown) {
      const bars: Bar[] = engines.flatMap((e) =>
        rowsOf(e).map((server) => {
          const own = figure(data, server, scenario)?.mps;
          const peer = figure(data, e.peer, scenario)?.mps;
          return {
            label: `${server} ÷ ${e.peer}`,
            value: own !== undefined && peer ? own / peer : null,
            color: COLORS[server] ?? "#777",
            unit: "×",
            target: server === e.name ? { value: e.minVsPeer[scenario], atMost: false } : undefined,
          };
        })
      );
      groups.push({ title: `${scenario} (msgs/s)`, bars });
    }
    if (shown.includes("small")) {
      groups.push({
        title: "small p99 latency (lower is better)",
        bars: engines.flatMap((e) =>
          rowsOf(e).map((server) => {
            const own = figure(data, server, "small")?.p99;
            const peer = figure(data, e.peer, "small")?.p99;
            return {
              label: `${server} ÷ ${e.peer}`,
              value: own !== undefined && peer ? own / peer : null,
              color: COLORS[server] ?? "#777",
              unit: "×",
              target: server === e.name ? { value: e.maxSmallP99VsPeer, atMost: true } : undefined,
            };
          })
        ),
      });
    }
    const values = groups.flatMap((g) => g.bars.flatMap((b) => [b.value ?? 1, b.target?.value ?? 1]));
    const [svg, h] = panel(
      y,
      "hybi (handler path, session) and the floor ÷ the runtime's peer (same run)",
      "log scale; bars grow from 1× (right = better than the peer; for latency left is better); " +
        "black tick = issue 11's target for the handler path",
      groups,
      logScale(values),
    );
    parts.push(svg);
    y += h;
  } else {
    parts.push(text(12, y + 14, "÷ peer: no hybi or floor row measured in this run", 'font-size="13" fill="#888"'));
    y += 30;
  }

  if (data.servers.includes("tcp-raw")) {
    const groups: Group[] = shown.map((scenario) => ({
      title: `${scenario} (msgs/s)`,
      bars: data.servers.filter((s) => s !== "tcp-raw").map((server) => {
        const own = figure(data, server, scenario)?.mps;
        const raw = figure(data, "tcp-raw", scenario)?.mps;
        const isEngine = ENGINES.some((e) => e.name === server);
        return {
          label: server,
          value: own !== undefined && raw ? own / raw : null,
          color: COLORS[server] ?? "#777",
          unit: "×",
          target: isEngine && scenario === "bulk" ? { value: MIN_BULK_VS_RAW, atMost: false } : undefined,
        };
      }),
    }));
    const values = groups.flatMap((g) => g.bars.map((b) => b.value ?? 0));
    const [svg, h] = panel(
      y,
      "every server ÷ tcp-raw (the machine's and client's ceiling)",
      `linear scale; black tick = the handler path's bulk target ≥ ${MIN_BULK_VS_RAW}×`,
      groups,
      linearScale(values),
    );
    parts.push(svg);
    y += h;
  }

  if (scenarios.includes("idle") && data.idle.size > 0) {
    const bars: Bar[] = data.servers.map((server) => {
      const engine = ENGINES.find((e) => e.name === server);
      return {
        label: server,
        value: data.idle.get(server)?.kibPerConn ?? null,
        color: COLORS[server] ?? "#777",
        unit: " KiB",
        target: engine ? { value: engine.maxIdleKiB, atMost: true } : undefined,
      };
    });
    const [svg, h] = panel(
      y,
      `idle memory per connection (${data.meta.settings.IDLE_CONNS} connections; lower is better)`,
      "KiB of server RSS per open connection; black tick = the handler path's target",
      [{ title: "KiB per connection", bars }],
      linearScale(bars.map((b) => b.value ?? 0)),
    );
    parts.push(svg);
    y += h;
  }

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" ` +
    `font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">\n` +
    `<rect width="${WIDTH}" height="${y}" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`;
}
