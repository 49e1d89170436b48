/**
 * permessage-deflate with Python's `websockets` (which offers
 * `permessage-deflate; client_max_window_bits` by default) on the current
 * runtime's engine: a `/usr/bin/python3` child runs
 * tests/_helpers/deflate_client.py against each route of the deflate echo,
 * with its default offer and with its own window and context takeover
 * requests, sending whole and fragmented messages. The connection is
 * checked from the wire (tests/_helpers/deflate_echo.ts); the script checks
 * every echo. Skipped when Python or its `websockets` package is missing
 * (`.ci/run` installs python3-websockets).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  type DeflateEcho,
  ROUTE_NAMES,
  type RouteName,
  startDeflateEcho,
  tapPath,
  verifyConnection,
} from "./_helpers/deflate_echo.ts";
import { runtime } from "./_helpers/engine.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./_helpers/deflate_client.py", import.meta.url));

function pythonWebsockets(): string | null {
  const probe = spawnSync(PYTHON, ["-c", "import websockets; print(websockets.__version__)"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}
const version = pythonWebsockets();
const skip = version === null
  ? `${PYTHON} with the websockets package is not installed (.ci/run installs python3-websockets)`
  : false;

let echo: DeflateEcho;
before(async () => {
  if (!skip) echo = await startDeflateEcho();
});
after(async () => {
  await echo?.stop();
});

interface PythonResult {
  extensions: string[];
  echoed: number;
  messages: number;
}

function runPython(args: string[]): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => out += String(d));
    child.stderr!.on("data", (d) => err += String(d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`deflate_client.py exited with ${code}:\n${err}${out}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!));
    });
  });
}

interface PythonCase {
  title: string;
  route: RouteName;
  /** ClientPerMessageDeflateFactory's arguments, plus `fragment` (send in fragments of this many bytes). */
  options: Record<string, boolean | number>;
  negotiated?: Parameters<typeof verifyConnection>[3];
  offer: string;
}

const DEFAULT_OFFER = "permessage-deflate; client_max_window_bits";
const cases: PythonCase[] = [
  ...ROUTE_NAMES.map((route): PythonCase => ({
    title: `default offer, /${route}`,
    route,
    options: {},
    offer: DEFAULT_OFFER,
  })),
  {
    title: "no context takeover asked both ways, fragmented sends",
    route: "takeover",
    options: { server_no_context_takeover: true, client_no_context_takeover: true, fragment: 100_000 },
    offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
    negotiated: {
      answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      serverNoContextTakeover: true,
    },
  },
  {
    title: "server_max_window_bits=9 and client_max_window_bits=11 asked",
    route: "takeover",
    options: { server_max_window_bits: 9, client_max_window_bits: 11 },
    offer: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11",
    negotiated: {
      answer: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11",
      serverWindowBits: 9,
    },
  },
];

for (const c of cases) {
  test(`Python websockets ${version ?? ""} on ${runtime}'s engine: ${c.title}`, { skip }, async () => {
    const tag = `python-${cases.indexOf(c)}`;
    const result = await runPython([echo.httpUrl, echo.wsUrl(c.route, tag), c.route, JSON.stringify(c.options)]);
    assert.equal(result.echoed, result.messages, "every echo intact");
    assert.equal(result.extensions.length, 1, "websockets agreed to one extension");
    assert.match(result.extensions[0], /^PerMessageDeflate\(/);
    const conn = echo.tap.connection(tapPath(c.route, tag));
    await conn.closed;
    const report = await verifyConnection(conn, c.route, echo.messages(c.route), c.negotiated);
    assert.equal(report.offer, c.offer);
    // websockets compresses every message: our inflater decoded them all.
    assert.equal(report.clientCompressed, report.clientMessages, "websockets compressed every message");
  });
}
