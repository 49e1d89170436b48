/**
 * The floor echo on Deno: `Deno.listen`, one read loop per connection
 * (`conn.read` into a kept buffer, the answer written from it with
 * `conn.write` before the next read; see `echo_core.ts`).
 *
 *     deno run -A bench/floor/deno.ts --port 9001
 *
 * The read buffer starts at 1 KiB (what an idle connection holds) and grows
 * by 4× up to 256 KiB (tcp-echo's buffer) each time a read fills it.
 *
 * @module
 */
import { exitOnSignals, FloorEcho, listenOptions } from "./echo_core.ts";

const FIRST_READ = 1024;
const MAX_READ = 256 * 1024;

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const echo = new FloorEcho();
  let buf = new Uint8Array(FIRST_READ);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      const out = echo.data(n === buf.length ? buf : buf.subarray(0, n));
      if (out !== null) {
        for (let written = 0; written < out.length;) {
          written += await conn.write(written === 0 ? out : out.subarray(written));
        }
      }
      if (echo.closing) break;
      if (n === buf.length && buf.length < MAX_READ) buf = new Uint8Array(buf.length * 4);
    }
  } catch {
    // Reset by the peer: nothing to answer.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

const { port, hostname } = listenOptions();
exitOnSignals();
const listener = Deno.listen({ hostname, port, transport: "tcp" });
console.log(`listening on ${listener.addr.port}`);
for await (const conn of listener) void serve(conn);
