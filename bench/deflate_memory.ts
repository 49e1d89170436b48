/**
 * Memory per permessage-deflate connection: N negotiated extensions held
 * idle, then after each exchanged one compressed message in each direction
 * (the zlib state a connection keeps between messages). Run one
 * configuration a process, so earlier runs do not blur the figures:
 *
 *   node --expose-gc bench/deflate_memory.ts [config] [N]
 *   deno run -A --v8-flags=--expose-gc bench/deflate_memory.ts [config] [N]
 *   bun bench/deflate_memory.ts [config] [N]
 *
 * or all of them on all runtimes: `bash bench/deflate_memory.sh`.
 * Configurations: default, no-takeover, small-window, ws (the `ws` package's
 * PerMessageDeflate with its defaults, as the peer to compare with).
 */
import process from "node:process";
import { Frame, negotiateExtensions, PerMessageDeflate, type PerMessageDeflateOptions } from "../mod.ts";
import type { PerMessageDeflateExtension } from "../src/extensions/permessage_deflate.ts";
import * as zlib from "node:zlib";

const configs: Record<string, { offer: string; options: PerMessageDeflateOptions }> = {
  "default": { offer: "permessage-deflate; client_max_window_bits", options: {} },
  "no-takeover": {
    offer: "permessage-deflate; client_max_window_bits",
    options: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
  "small-window": {
    offer: "permessage-deflate; client_max_window_bits",
    options: { serverMaxWindowBits: 10, clientMaxWindowBits: 10, memLevel: 4 },
  },
};

const name = process.argv[2] ?? "default";
const count = Number(process.argv[3] ?? 10_000);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

function collect(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  for (let i = 0; i < 3; i++) {
    if (g.Bun) g.Bun.gc(true);
    else g.gc?.();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    collect();
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** A 2 KiB chat-like message. */
function message(): Uint8Array {
  let s = "";
  for (let i = 0; s.length < 2048; i++) s += JSON.stringify({ id: i, user: `user${i % 7}`, text: "hello there" });
  return new TextEncoder().encode(s.slice(0, 2048));
}

const data = message();
const compressed = (() => {
  const c = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(c.subarray(0, c.length - 4));
})();

interface Held {
  exchange(): Promise<void>;
  dispose(): void;
}

function makeOurs(config: { offer: string; options: PerMessageDeflateOptions }): Held[] {
  const factory = new PerMessageDeflate({ ...config.options, compressIfBiggerThan: 0 });
  const held: Held[] = [];
  for (let i = 0; i < count; i++) {
    const ext = negotiateExtensions(config.offer, [factory]).extensions[0] as PerMessageDeflateExtension;
    held.push({
      async exchange() {
        await ext.decodeFrame(compressed, true, 1 << 20, () => {});
        await ext.encodeFrame(new Frame.Text(data));
      },
      dispose: () => ext.dispose(),
    });
  }
  return held;
}

async function makeWs(): Promise<Held[]> {
  const lib = new URL("../node_modules/ws/lib/permessage-deflate.js", import.meta.url);
  const { default: WsPerMessageDeflate } = await import(lib.href);
  const held: Held[] = [];
  for (let i = 0; i < count; i++) {
    const pmd = new WsPerMessageDeflate({ isServer: true, threshold: 0 });
    pmd.accept([{ client_max_window_bits: [true] }]);
    const call = (f: "compress" | "decompress", d: Uint8Array) =>
      new Promise<void>((resolve, reject) => pmd[f](d, true, (e: Error | null) => e ? reject(e) : resolve()));
    held.push({
      async exchange() {
        await call("decompress", compressed);
        await call("compress", data);
      },
      dispose: () => pmd.cleanup(),
    });
  }
  return held;
}

await settle();
const base = process.memoryUsage();
const held = name === "ws" ? await makeWs() : await makeOurs(configs[name] ?? configs.default);
await settle();
const idle = process.memoryUsage();
const batch = 200;
for (let i = 0; i < held.length; i += batch) await Promise.all(held.slice(i, i + batch).map((h) => h.exchange()));
await settle();
const used = process.memoryUsage();

const per = (a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage) => ((b.rss - a.rss) / count / 1024).toFixed(1);
console.log(
  `${runtime.padEnd(4)} ${name.padEnd(12)} N=${count}  idle: ${per(base, idle)} KiB/conn  ` +
    `after one message each way: ${per(base, used)} KiB/conn  (rss ${mib(base.rss)} → ${mib(idle.rss)} → ${
      mib(used.rss)
    } MiB, heap ${mib(used.heapUsed)} MiB, external ${mib(used.external)} MiB)`,
);
for (const h of held) h.dispose();
