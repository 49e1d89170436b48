/**
 * The permessage-deflate real-client tests' server and scenario: an echo
 * on the current runtime's engine with one route per server configuration
 * (context takeover on, off, small windows, echoes sent in fragments),
 * reached through a {@linkcode WireTap} so the tests see what was
 * negotiated and what travelled on the wire, plus the messages every
 * client sends (served over HTTP at `/payload/:i`, so a browser or a
 * Python process fetches exactly the bytes the test checks).
 *
 * `verifyConnection` then checks one client's connection from the wire
 * alone: the response header, RSV1 on the first frame of each compressed
 * message only, and that the server's frames decode — with an independent
 * node:zlib inflater using the negotiated window and context takeover —
 * to the bytes the client sent.
 */
import assert from "node:assert/strict";
import { Frame, PerMessageDeflate, type PerMessageDeflateOptions, route, router, webSocket } from "../../mod.ts";
import type { DefaultWebSocketSession } from "../../mod.ts";
import type { Server } from "../../src/http/serve_types.ts";
import { engineServe } from "./engine.ts";
import { type TappedConnection, type TappedMessage, WireTap } from "./wire_tap.ts";
import { inflateAlone, StreamInflater } from "./zlib_peer.ts";
import { repeatedBlock, seededBytes, wordText } from "./seeded_bytes.ts";

export type RouteName = "takeover" | "no-takeover" | "window-10" | "fragments";

export interface RouteConfig {
  options: PerMessageDeflateOptions;
  /** Our answer to a client offering `permessage-deflate; client_max_window_bits` (what browsers send). */
  answer: string;
  /** Messages up to this size go uncompressed. */
  threshold: number;
  /** The window our compressor uses, for the verifying inflater. */
  serverWindowBits: number;
  serverNoContextTakeover: boolean;
  /** Echoes are sent in fragments of this size (0: whole). */
  fragment: number;
  /** Size of the scenario's large messages on this route. */
  large: number;
}

const MiB = 1024 * 1024;

export const ROUTES: Record<RouteName, RouteConfig> = {
  takeover: {
    options: { compressIfBiggerThan: 0 },
    answer: "permessage-deflate",
    threshold: 0,
    serverWindowBits: 15,
    serverNoContextTakeover: false,
    fragment: 0,
    large: 4 * MiB,
  },
  "no-takeover": {
    options: { compressIfBiggerThan: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    threshold: 0,
    serverWindowBits: 15,
    serverNoContextTakeover: true,
    fragment: 0,
    large: MiB,
  },
  "window-10": {
    options: { compressIfBiggerThan: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
    answer: "permessage-deflate; client_max_window_bits=10",
    threshold: 0,
    serverWindowBits: 10,
    serverNoContextTakeover: false,
    fragment: 0,
    large: MiB,
  },
  fragments: {
    options: {},
    answer: "permessage-deflate",
    threshold: 1024,
    serverWindowBits: 15,
    serverNoContextTakeover: false,
    fragment: 16 * 1024,
    large: MiB,
  },
};

export const ROUTE_NAMES: RouteName[] = Object.keys(ROUTES) as RouteName[];

export interface ScenarioMessage {
  kind: "text" | "binary";
  bytes: Uint8Array<ArrayBuffer>;
  /** Compresses to far less (checked on the wire when large). */
  compressible: boolean;
}

const VOCABULARY = ["alpha", "beta", "gamma", "delta", "héllo", "wörld", "✓", "naïve", "日本", "🙂", "the", "of"]
  .map((w) => new TextEncoder().encode(w + " "));

/** Text of random words, some with multi-byte UTF-8, exactly `n` bytes. */
function words(n: number, seed: number): Uint8Array<ArrayBuffer> {
  return wordText(n, seed, VOCABULARY, Math.ceil(n / 2) + 16);
}

const encoder = new TextEncoder();
const SENTENCE = encoder.encode("The quick brown fox jumps over the lazy dog. ".repeat(7));

/**
 * The messages each client sends, in order, on a route whose large messages
 * have `large` bytes: small and large, text and binary, compressible and
 * not, an empty one, and one sentence twice (context takeover shows in the
 * second one's size on the wire).
 */
export function scenario(large: number): ScenarioMessage[] {
  return [
    { kind: "text", bytes: encoder.encode("Hello"), compressible: false },
    { kind: "text", bytes: SENTENCE, compressible: true },
    { kind: "text", bytes: SENTENCE, compressible: true },
    { kind: "binary", bytes: seededBytes(64, 3), compressible: false },
    { kind: "binary", bytes: new Uint8Array(0), compressible: false },
    { kind: "text", bytes: words(MiB, 5), compressible: true },
    { kind: "binary", bytes: repeatedBlock(large, 3000, 7), compressible: true },
    { kind: "binary", bytes: seededBytes(large, 11), compressible: false },
    { kind: "text", bytes: words(large, 13), compressible: true },
    { kind: "text", bytes: words(16, 17), compressible: false },
    { kind: "binary", bytes: seededBytes(16, 19), compressible: false },
  ];
}

/** Index of the sentence sent twice. */
export const REPEATED = [1, 2] as const;
/** Index of the 1 MiB compressible text. */
export const COMPRESSIBLE_MIB = 5;

async function echoWhole(session: DefaultWebSocketSession): Promise<void> {
  for await (const m of session.incoming) await session.send(m);
}

function echoInFragments(size: number) {
  return async (session: DefaultWebSocketSession): Promise<void> => {
    for await (const m of session.incoming) {
      const d = m.data;
      if (d.length <= size) {
        await session.send(m);
        continue;
      }
      for (let at = 0; at < d.length; at += size) {
        const part = d.subarray(at, at + size);
        const fin = at + size >= d.length;
        const frame = at > 0
          ? new Frame.Continuation(part, fin)
          : m.opcode === 0x1
          ? new Frame.Text(part, fin)
          : new Frame.Binary(part, fin);
        await session.send(frame);
      }
    }
  };
}

const PAGE = "<!doctype html><meta charset=utf-8><title>hybi permessage-deflate</title><p>test page";

export interface DeflateEcho {
  server: Server;
  tap: WireTap;
  /** `http://127.0.0.1:<server port>` (directly, not through the tap). */
  httpUrl: string;
  /** A fresh `ws://` URL of a route, through the tap; `tag` makes it unique for `tap.connection()`. */
  wsUrl(route: RouteName, tag: string): string;
  /** The scenario of a route (with large messages of `large` bytes instead of the route's size). */
  messages(route: RouteName, large?: number): ScenarioMessage[];
  stop(): Promise<void>;
}

/**
 * Starts the echo on the current runtime's engine and a tap in front of it.
 * `/payload/:route/:i` serves message `i` of a route's scenario (header
 * `x-kind: text|binary`, `x-count`: how many there are), `/` a blank page.
 */
export async function startDeflateEcho(): Promise<DeflateEcho> {
  const serve = await engineServe();
  const scenarios = new Map<RouteName, ScenarioMessage[]>();
  for (const name of ROUTE_NAMES) scenarios.set(name, scenario(ROUTES[name].large));
  const routes = ROUTE_NAMES.map((name) => {
    const config = ROUTES[name];
    return webSocket(`/${name}`, null, config.fragment > 0 ? echoInFragments(config.fragment) : echoWhole, {
      extensions: [new PerMessageDeflate(config.options)],
    });
  });
  const server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: (e) => console.error(e) },
    router([
      ...routes,
      route("/", () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } })),
      route("/payload/:route/:i", (_request, { params }) => {
        const list = scenarios.get(params.route as RouteName);
        const m = list?.[Number(params.i)];
        if (list === undefined || m === undefined) return new Response("no such payload", { status: 404 });
        return new Response(m.bytes, {
          headers: {
            "content-type": "application/octet-stream",
            "x-kind": m.kind,
            "x-count": String(list.length),
            "access-control-allow-origin": "*",
            "access-control-expose-headers": "x-kind, x-count",
          },
        });
      }),
    ]),
  );
  const tap = await WireTap.start(server.port);
  return {
    server,
    tap,
    httpUrl: `http://127.0.0.1:${server.port}`,
    wsUrl: (name, tag) => `ws://127.0.0.1:${tap.port}/${name}?client=${encodeURIComponent(tag)}`,
    messages: (name, large) => large === undefined ? scenarios.get(name)! : scenario(large),
    async stop() {
      await server.shutdown({ timeout: 2000 });
      await tap.close();
    },
  };
}

/** The request target of `wsUrl(route, tag)`, to find the tapped connection. */
export function tapPath(route: RouteName, tag: string): string {
  return `/${route}?client=${encodeURIComponent(tag)}`;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What one client's connection looked like on the wire. */
export interface WireReport {
  /** The client's offer. */
  offer: string | null;
  /** Our answer. */
  answer: string | null;
  /** Client messages that came compressed (RSV1), of all. */
  clientCompressed: number;
  clientMessages: number;
  /** Wire bytes / message bytes of the 1 MiB compressible text, each way. */
  compressibleRatio: { fromClient: number; fromServer: number };
}

/**
 * Checks, from the wire, one client's run of a route's scenario (every
 * message sent once, in order, each echo awaited): our answer, the framing
 * of every echo, that each echo decodes to what was sent — with an
 * independent inflater using the negotiated window, context reset per
 * message when we promised so — and that compression took effect.
 * `negotiated` overrides the route's expectations when the client's offer
 * changes them (its own window or context takeover requests).
 */
export async function verifyConnection(
  conn: TappedConnection,
  name: RouteName,
  sent: ScenarioMessage[],
  negotiated: Partial<Pick<RouteConfig, "answer" | "serverWindowBits" | "serverNoContextTakeover">> = {},
): Promise<WireReport> {
  const config = { ...ROUTES[name], ...negotiated };
  const answer = conn.responseHeader("sec-websocket-extensions");
  assert.equal(answer, config.answer, `our Sec-WebSocket-Extensions answer on /${name}`);

  for (const f of conn.fromServer.frames) {
    if (f.opcode >= 8) assert.equal(f.rsv, 0, "control frames carry no RSV bits");
  }
  const echoes = conn.fromServer.messages();
  assert.equal(echoes.length, sent.length, "one echo per message");
  const inflater = config.serverNoContextTakeover ? null : new StreamInflater(config.serverWindowBits);
  try {
    for (let i = 0; i < sent.length; i++) {
      const m = sent[i];
      const e = echoes[i];
      assert.equal(e.opcode, m.kind === "text" ? 1 : 2, `echo ${i}: opcode`);
      for (let k = 1; k < e.frames.length; k++) assert.equal(e.frames[k].rsv, 0, `echo ${i}: RSV on a continuation`);
      const fragmented = config.fragment > 0 && m.bytes.length > config.fragment;
      assert.equal(e.frames.length, fragmented ? Math.ceil(m.bytes.length / config.fragment) : 1, `echo ${i}: frames`);
      const compressed = fragmented || m.bytes.length > config.threshold;
      assert.equal(
        e.rsv,
        compressed ? 4 : 0,
        `echo ${i} (${m.bytes.length} bytes): RSV1 ${compressed ? "set" : "clear"}`,
      );
      let decoded = e.payload;
      if (compressed) decoded = inflater === null ? inflateAlone(e.payload) : await inflater.inflate(e.payload);
      assert.ok(equal(decoded, m.bytes), `echo ${i} (${m.bytes.length} bytes) decodes to the message sent`);
    }
  } finally {
    inflater?.close();
  }

  const [first, second] = REPEATED.map((i) => echoes[i].payload.length);
  if (config.serverNoContextTakeover) {
    assert.equal(second, first, "without context takeover the same message compresses alike");
  } else if (config.threshold < SENTENCE.length && config.serverWindowBits >= 10) {
    // (zlib reaches back at most 2^bits - 262 bytes: with 9 bits, 250, less than the sentence.)
    assert.ok(second * 2 < first, `with context takeover a repeated message shrinks (${first} → ${second} bytes)`);
  }

  const fromClient = conn.fromClient.messages();
  const mib = COMPRESSIBLE_MIB;
  const ratio = (t: TappedMessage) => t.payload.length / sent[mib].bytes.length;
  const report: WireReport = {
    offer: conn.requestHeader("sec-websocket-extensions"),
    answer,
    clientCompressed: fromClient.filter((t) => (t.rsv & 4) !== 0).length,
    clientMessages: fromClient.length,
    compressibleRatio: { fromClient: ratio(fromClient[mib]), fromServer: ratio(echoes[mib]) },
  };
  assert.ok(
    report.compressibleRatio.fromServer < 0.25,
    `the 1 MiB compressible text travels compressed (ratio ${report.compressibleRatio.fromServer.toFixed(3)})`,
  );
  return report;
}
