/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, `bun --cpu-prof`):
 * self time per function, and inclusive time per function, top N.
 *
 *   node bench/profile_summary.ts PROFILE.cpuprofile [N]
 */
import { readFileSync } from "node:fs";
import process from "node:process";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const [file, topArg, linesOf] = process.argv.slice(2);
const top = Number(topArg ?? 40);
const profile: Profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map<number, ProfileNode>();
for (const n of profile.nodes) byId.set(n.id, n);
const hits = new Map<number, number>();
if (profile.samples !== undefined && profile.samples.length > 0) {
  for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
} else {
  for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
}
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (f: CallFrame): string => {
  const url = f.url.replace(/^.*\/wt-perf\//, "").replace(/^file:\/\//, "");
  return `${f.functionName || "(anon)"} ${url}${url ? ":" + (f.lineNumber + 1) : ""}`;
};
let total = 0;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, h] of hits) {
  if (h === 0) continue;
  total += h;
  const node = byId.get(id)!;
  const key = label(node.callFrame);
  self.set(key, (self.get(key) ?? 0) + h);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(byId.get(cur)!.callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + h);
  }
}
const print = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title} (${total} samples)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
print("self", self);
print("inclusive", inclusive);

// Line-level self ticks of the functions whose label contains the third argument.
if (linesOf !== undefined) {
  const lines = new Map<string, number>();
  for (const n of profile.nodes) {
    const key = label(n.callFrame);
    if (!key.includes(linesOf)) continue;
    for (const t of n.positionTicks ?? []) {
      const k = `${key.split(" ")[1].replace(/:\d+$/, "")}:${t.line}`;
      lines.set(k, (lines.get(k) ?? 0) + t.ticks);
    }
  }
  console.log(`\nlines of functions matching "${linesOf}"`);
  for (const [k, v] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    console.log(`${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
  }
}
