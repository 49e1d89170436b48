/**
 * `examples/echo.ts`, started exactly as an outside conformance suite starts
 * it (`npm run echo:<runtime> -- --port 0 --api <api>`), on the runtime
 * running the test: for each of `--api handlers`, `session` and `raw` it
 * prints exactly one `listening on <port>` line, echoes, and exits with 0 on
 * SIGTERM after closing its sessions with 1001; a bad `--api` exits with 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import { Frame, FrameReader, FrameWriter } from "../mod.ts";
import { next, runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

/** A child process's output, its exit code, and a way to signal it. */
interface Child {
  stdout(onData: (text: string) => void): void;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  exited: Promise<number | null>;
  kill(signal: "SIGTERM" | "SIGINT"): void;
}

function spawnChild(command: string, args: string[], cwd: string): Child {
  let stderr = "";
  if (runtime === "deno") {
    // Deno's node:child_process reports a child that exits 0 after SIGTERM as killed; its own API tells the truth.
    const child = new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).spawn();
    const decoder = new TextDecoder();
    let listener: (text: string) => void = () => {};
    const reading = child.stdout.pipeTo(new WritableStream({ write: (chunk) => listener(decoder.decode(chunk)) }));
    const errDecoder = new TextDecoder();
    const readingErr = child.stderr.pipeTo(
      new WritableStream({
        write: (chunk) => {
          stderr += errDecoder.decode(chunk);
        },
      }),
    );
    return {
      stdout: (onData) => listener = onData,
      stderr: () => stderr,
      exited: child.status.then(async (status) => {
        await Promise.all([reading, readingErr]);
        return status.code;
      }),
      kill: (signal) => child.kill(signal),
    };
  }
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.on("data", (d) => stderr += String(d));
  return {
    stdout: (onData) => child.stdout!.on("data", (d) => onData(String(d))),
    stderr: () => stderr,
    // "close": the process exited and its output is read to the end.
    exited: new Promise((resolve) => child.on("close", (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
  };
}

type Api = "handlers" | "session" | "raw";

function startEcho(api: string) {
  const child = spawnChild(
    "npm",
    ["run", "-s", `echo:${runtime}`, "--", "--port", "0", "--api", api],
    new URL("..", import.meta.url).pathname,
  );
  let stdout = "";
  const port = new Promise<number>((resolve, reject) => {
    child.stdout((d) => {
      stdout += d;
      const line = stdout.match(/^listening on (\d+)\n/);
      if (line) resolve(Number(line[1]));
    });
    child.exited.then((code) =>
      reject(new Error(`the echo exited (${code}) before listening: ${stdout}${child.stderr()}`))
    );
  });
  return { child, port, exited: child.exited, output: () => stdout };
}

for (const api of ["handlers", "session", "raw"] as const) {
  test(`examples/echo.ts --api ${api} on ${runtime}: one "listening on <port>" line, echoes, exits cleanly on SIGTERM`, () =>
    echoes(api));
}

test(`examples/echo.ts on ${runtime}: a bad --api value exits with 2 before listening`, async () => {
  const echo = startEcho("bogus");
  echo.port.catch(() => {}); // rejects when it exits, as it must
  assert.equal(await echo.exited, 2);
  assert.equal(echo.output(), "", "nothing on stdout");
  assert.match(echo.child.stderr(), /--api must be handlers, session or raw, not bogus/);
});

async function echoes(api: Api): Promise<void> {
  const echo = startEcho(api);
  const port = await echo.port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/any/path?x=1`);
  ws.binaryType = "arraybuffer";
  await next(ws, "open");
  ws.send("text ✓");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "text ✓");
  ws.send(new Uint8Array([0, 1, 2, 255]));
  assert.deepEqual(new Uint8Array((await next<MessageEvent>(ws, "message")).data), new Uint8Array([0, 1, 2, 255]));

  const client = new WebSocketClient(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((resolve, reject) => client.once("open", resolve).once("error", reject));
  client.ping(Buffer.from("ping!"));
  assert.equal((await new Promise<Buffer>((r) => client.once("pong", r))).toString(), "ping!");
  client.close(4100, "see you");
  assert.equal(await new Promise<number>((r) => client.once("close", (code) => r(code))), 4100);

  // handlers, session: a fragmented message comes back whole; text that is not UTF-8 fails the connection with 1007.
  // raw: each frame comes back as it came, text that is not UTF-8 too, until our close comes back.
  const raw = await SocketClient.connect(port);
  const writer = new FrameWriter({ masking: true });
  raw.write(handshake("/frag"));
  await raw.until(() => raw.text().includes("\r\n\r\n"));
  const headLength = raw.text().indexOf("\r\n\r\n") + 4;
  raw.write(writer.encode(new Frame.Text("frag", false)));
  raw.write(writer.encode(new Frame.Continuation(new TextEncoder().encode("ment"), true)));
  raw.write(writer.encode(new Frame.Text(new Uint8Array([0x68, 0xc3]))));
  if (api === "raw") raw.write(writer.encode(new Frame.Close(new Uint8Array([0x03, 0xe8]))));
  await raw.until(() => raw.ended);
  const reader = new FrameReader({ role: "client" });
  reader.push(raw.bytes().subarray(headLength));
  const frames: Frame[] = [];
  for (let f = reader.read(); f !== null; f = reader.read()) frames.push(f);
  if (api === "raw") {
    assert.equal(frames.length, 4, `frames back: ${frames.map((f) => f.constructor.name)}`);
    assert.ok(frames[0] instanceof Frame.Text && !frames[0].fin && frames[0].readText() === "frag");
    assert.ok(frames[1] instanceof Frame.Continuation && frames[1].fin);
    assert.deepEqual(frames[1].data, new TextEncoder().encode("ment"));
    assert.ok(frames[2] instanceof Frame.Text && frames[2].fin);
    assert.deepEqual(frames[2].data, new Uint8Array([0x68, 0xc3]));
    assert.ok(frames[3] instanceof Frame.Close);
    assert.equal(frames[3].readReason()?.code, 1000);
  } else {
    assert.equal(frames.length, 2, `frames back: ${frames.map((f) => f.constructor.name)}`);
    assert.ok(frames[0] instanceof Frame.Text && frames[0].fin && frames[0].readText() === "fragment");
    assert.ok(frames[1] instanceof Frame.Close);
    assert.equal(frames[1].readReason()?.code, 1007);
  }
  raw.close();

  // A plain request is told to upgrade.
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 426);

  // SIGTERM: open sessions are closed with 1001, and the process exits with 0.
  const closed = next<CloseEvent>(ws, "close");
  echo.child.kill("SIGTERM");
  assert.equal((await closed).code, 1001);
  assert.equal(await echo.exited, 0, `exit code (stderr: ${echo.child.stderr()})`);
  assert.equal(echo.output(), `listening on ${port}\n`, "stdout is exactly the one line");
}
