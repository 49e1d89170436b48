/**
 * Which node:zlib API the permessage-deflate codec should use, per runtime:
 * messages a second through one zlib stream (write + flush(), or a stream
 * created with `flush: Z_SYNC_FLUSH` and write(data, callback)) and through
 * the one-shot sync API (a fresh context per message, so without context
 * takeover). Run under each runtime:
 *
 *   node bench/zlib_api.ts [size]
 *   deno run -A bench/zlib_api.ts [size]
 *   bun bench/zlib_api.ts [size]
 */
import process from "node:process";
import * as zlib from "node:zlib";

const SYNC = zlib.constants.Z_SYNC_FLUSH;
const size = Number(process.argv[2] ?? 1024);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const count = size >= 65536 ? 1000 : 10000;

function message(i: number): Uint8Array {
  let s = "";
  while (s.length < size) s += JSON.stringify({ id: i, user: `user${i % 100}`, text: `hello world ${i}` }) + ",";
  return new TextEncoder().encode(s.slice(0, size));
}
const messages = Array.from({ length: 64 }, (_, i) => message(i));
const compressed = messages.map((m) => zlib.deflateRawSync(m, { finishFlush: SYNC }));

async function measure(name: string, run: (n: number) => Promise<number>): Promise<void> {
  await run(200);
  const start = performance.now();
  const bytes = await run(count);
  const ms = performance.now() - start;
  console.log(`${runtime} ${size} B ${name}: ${(count / ms * 1000).toFixed(0)} msg/s (${bytes} bytes out)`);
}

function viaStream(
  make: (options: zlib.ZlibOptions) => zlib.DeflateRaw | zlib.InflateRaw,
  inputs: Uint8Array[],
  flushOption: boolean,
): (n: number) => Promise<number> {
  return (n) =>
    new Promise((resolve) => {
      const z = make(flushOption ? { flush: SYNC } : {});
      let total = 0;
      let i = 0;
      z.on("data", (c: Uint8Array) => total += c.length);
      const next = (): void => {
        if (i === n) {
          z.close();
          resolve(total);
          return;
        }
        const input = inputs[i++ % inputs.length];
        if (flushOption) {
          z.write(input, next);
        } else {
          z.write(input);
          z.flush(SYNC, next);
        }
      };
      next();
    });
}

await measure("deflate stream write+flush()", viaStream(zlib.createDeflateRaw, messages, false));
await measure("deflate stream {flush: SYNC} write(cb)", viaStream(zlib.createDeflateRaw, messages, true));
await measure("deflateRawSync (no context)", (n) => {
  let total = 0;
  for (let i = 0; i < n; i++) total += zlib.deflateRawSync(messages[i % 64], { finishFlush: SYNC }).length;
  return Promise.resolve(total);
});
await measure("inflate stream write+flush()", viaStream(zlib.createInflateRaw, compressed, false));
await measure("inflate stream {flush: SYNC} write(cb)", viaStream(zlib.createInflateRaw, compressed, true));
await measure("inflateRawSync (no context)", (n) => {
  let total = 0;
  for (let i = 0; i < n; i++) total += zlib.inflateRawSync(compressed[i % 64], { finishFlush: SYNC }).length;
  return Promise.resolve(total);
});
