/**
 * hybi's client against every real server we have (issue 13, "Real servers
 * we did not write"): `ws` with and without permessage-deflate,
 * `Deno.serve` + `Deno.upgradeWebSocket`, `Bun.serve`, Python's
 * `websockets` (tests/_helpers/peer_servers.ts), and hybi's own server on
 * the runtime running the test. One named suite per peer, one test per
 * feature, skipped with a reason where the peer cannot do it.
 *
 * Each peer speaks the small protocol of peer_servers.ts: echo, and the
 * text requests `fragmented`, `close:CODE:REASON`, `ping:PAYLOAD`,
 * `headers`. The echo test uses the runtime-detecting
 * `@hybi/websocket/client` (src/client.ts); the others the engine's own
 * `connect`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  CloseReason,
  type DefaultWebSocketSession,
  Frame,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  router,
  webSocket,
} from "../mod.ts";
import { connect as detectedConnect } from "../src/client.ts";
import type { Server } from "../src/http/serve_types.ts";
import { engineConnect, nextMessage } from "./_helpers/connect.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import {
  FRAGMENTS,
  type Peer,
  PEER_KINDS,
  PEER_PROTOCOLS,
  type PeerFeatures,
  type PeerKind,
  type PeerRequestInfo,
} from "./_helpers/peer_servers.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { until, within } from "./_helpers/wait.ts";
import { WireTap } from "./_helpers/wire_tap.ts";

const connect = await engineConnect();
const MiB = 1024 * 1024;
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------
// hybi's own server as a peer: the same protocol as peer_servers.ts' peers.

/** Runs one connection of the peer protocol on a default session. */
async function servePeerSession(session: DefaultWebSocketSession, request: Request): Promise<void> {
  session.onPong = (data) => void session.sendText(`pong:${decoder.decode(data)}`).catch(() => {});
  for await (const message of session) {
    if (message.opcode === 2) {
      await session.sendBinary(message.data);
      continue;
    }
    const text = decoder.decode(message.data);
    if (text === "fragmented") {
      const encoder = new TextEncoder();
      for (let i = 0; i < FRAGMENTS.length; i++) {
        const fin = i === FRAGMENTS.length - 1;
        await session.send(
          i === 0 ? new Frame.Text(FRAGMENTS[i], fin) : new Frame.Continuation(encoder.encode(FRAGMENTS[i]), fin),
        );
      }
    } else if (text === "headers") {
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => headers[name] = value);
      const url = new URL(request.url);
      const info: PeerRequestInfo = { path: url.pathname + url.search, headers, protocol: session.protocol ?? "" };
      await session.sendText(JSON.stringify(info));
    } else if (text.startsWith("close:")) {
      const rest = text.slice(6);
      const colon = rest.indexOf(":");
      await session.close(new CloseReason(Number(rest.slice(0, colon)), rest.slice(colon + 1)));
      return;
    } else if (text.startsWith("ping:")) {
      await session.ping(text.slice(5));
    } else await session.sendText(text);
  }
}

const HYBI_FEATURES: PeerFeatures = {
  fragmented: true,
  ping: true,
  compression: true,
  unsupportedOffer: "none",
  compactOffer: true,
};

/** hybi's server on this runtime's engine, permessage-deflate on, the peer protocols as routes in the peer's order. */
async function startHybiPeer(certs?: TestCertificates): Promise<Peer> {
  const serve = await engineServe();
  const options = {
    extensions: [new PerMessageDeflate()],
    maxMessageSize: 32 * MiB,
  };
  const handler = (session: DefaultWebSocketSession, context: { request: Request }) =>
    servePeerSession(session, context.request);
  // The router tries routes in order; a route with a protocol takes only a request that offers it.
  const routes = [...PEER_PROTOCOLS.map((protocol) => webSocket("/", protocol, handler, options))];
  routes.push(webSocket("/", null, handler, options));
  const server: Server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: () => {}, cert: certs?.cert, key: certs?.key },
    router(routes),
  );
  return {
    name: `hybi-${runtime}${certs ? " (tls)" : ""}`,
    url: `${certs ? "wss" : "ws"}://127.0.0.1:${server.port}/`,
    port: server.port,
    features: HYBI_FEATURES,
    close: () => server.shutdown({ timeout: 1000 }),
  };
}

const HYBI_KIND: PeerKind = {
  name: `hybi-${runtime}`,
  features: HYBI_FEATURES,
  tls: true,
  skip: false,
  start: startHybiPeer,
};

// ---------------------------------------------------------------------------

let certs: TestCertificates;
before(async () => {
  certs = await makeCertificates();
});
after(async () => {
  await certs?.remove();
});

/** Bytes that differ from one position to the next, so that a shifted or truncated echo shows. */
function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  return out;
}

function sameBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: binary`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: content`);
}

const SIZES = [0, 125, 64 * 1024, 16 * MiB];

for (const kind of [...PEER_KINDS, HYBI_KIND]) {
  const features = kind.features;
  describe(`${runtime} client ↔ ${kind.name}`, { skip: kind.skip }, () => {
    let peer: Peer;
    const sessions: DefaultWebSocketSession[] = [];
    /** A default session to the peer (ended after the suite if a test left it open). */
    async function open(
      options: Parameters<typeof connect>[1] & { raw?: false; handlers?: undefined } = {},
      url = peer.url,
    ): Promise<DefaultWebSocketSession> {
      const session = await connect(url, { maxMessageSize: 32 * MiB, ...options });
      sessions.push(session);
      return session;
    }
    before(async () => {
      peer = await kind.start();
    });
    after(async () => {
      for (const session of sessions) session.terminate();
      await peer?.close();
    });

    test(`text, and binary of ${SIZES.map((s) => s >= MiB ? `${s / MiB} MiB` : `${s} B`).join(", ")}`, async () => {
      // The runtime-detecting import, as an application would use it.
      const session = await detectedConnect(peer.url, { maxMessageSize: 32 * MiB });
      sessions.push(session);
      await session.sendText("hello ✓ ünïcødé");
      assert.equal(await nextMessage(session), "hello ✓ ünïcødé");
      for (const size of SIZES) {
        const data = pattern(size);
        await session.sendBinary(data);
        const echoed = await within(nextMessage(session), { timeout: 60_000, message: `the ${size}-byte echo` });
        sameBytes(echoed, data, `${size} bytes`);
      }
      const text = "ab€".repeat(100_000);
      await session.sendText(text);
      assert.equal(await nextMessage(session), text);
      await session.close();
    });

    test("a fragmented message from the server is reassembled", {
      skip: features.fragmented ? false : `${kind.name}'s API cannot send a fragment`,
    }, async () => {
      const session = await open({ extensions: false });
      await session.sendText("fragmented");
      assert.equal(await nextMessage(session), FRAGMENTS.join(""));
      await session.sendText("after");
      assert.equal(await nextMessage(session), "after");
      await session.close();
    });

    test("the server's ping with a payload is answered with the same payload", {
      skip: features.ping ? false : `${kind.name}'s API cannot send a ping`,
    }, async () => {
      const session = await open();
      const pings: string[] = [];
      session.onPing = (data) => void pings.push(decoder.decode(data));
      await session.sendText("ping:are you there? ✓");
      assert.equal(await nextMessage(session), "pong:are you there? ✓");
      assert.deepEqual(pings, ["are you there? ✓"]);
      await session.close();
    });

    test("the client's ping with a payload gets its pong", async () => {
      const session = await open();
      const pongs: string[] = [];
      session.onPong = (data) => void pongs.push(decoder.decode(data));
      await session.ping("client ping ✓");
      // Messages keep flowing meanwhile; the pong arrives before the echo sent after the ping.
      await session.sendText("after the ping");
      assert.equal(await nextMessage(session), "after the ping");
      await until(() => pongs.length === 1, { message: "the pong" });
      assert.deepEqual(pongs, ["client ping ✓"]);
      await session.close();
    });

    test("the client closes with a code and reason: the server echoes the code, TCP closes", async () => {
      const session = await open();
      await session.sendText("before the close");
      assert.equal(await nextMessage(session), "before the close");
      await within(session.close(new CloseReason(4002, "client bye ✓")), {
        timeout: 10_000,
        message: "the close handshake",
      });
      assert.deepEqual(await session.closeReason, new CloseReason(4002, "client bye ✓"));

      // On the wire, with a RAW session: the server's close frame carries our code.
      const raw = await connect(peer.url, { raw: true });
      await raw.send(new Frame.Close(new CloseReason(4003, "raw bye")));
      const frames = raw[Symbol.asyncIterator]();
      let answer: Frame | undefined;
      for (;;) {
        const next = await within(frames.next(), { message: "the server's close frame" });
        assert.ok(next.done !== true, "the server answered before the end");
        if (next.value.opcode === 8) {
          answer = next.value;
          break;
        }
      }
      assert.equal((answer as InstanceType<typeof Frame.Close>).readReason()?.code, 4003);
      // The server then closes TCP: the RAW session ends.
      assert.equal((await within(frames.next(), { message: "the end after the close" })).done, true);
    });

    test("the server closes with 4001 bye: the session's closeReason", async () => {
      const session = await open();
      await session.sendText("close:4001:bye");
      assert.equal(await within(nextMessage(session), { message: "the end of messages" }), null);
      assert.deepEqual(await session.closeReason, new CloseReason(4001, "bye"));
      await within(session.close(), { timeout: 10_000, message: "the connection to finish" });
    });

    test("subprotocols: one of the offer, as the server reports it", async () => {
      // hybi writes the offer `superchat, chat` (which Deno's upgradeWebSocket needs). The peers take the
      // first of the offer they support; hybi's router takes the first route whose protocol was offered.
      const expected = kind === HYBI_KIND ? PEER_PROTOCOLS[0] : "superchat";
      const session = await open({ protocols: ["superchat", "chat"] });
      assert.equal(session.protocol, expected);
      await session.sendText("headers");
      const info = JSON.parse(String(await nextMessage(session))) as PeerRequestInfo;
      assert.equal(info.protocol, expected);
      assert.equal(info.headers["sec-websocket-protocol"], "superchat, chat");
      await session.close();

      const other = await open({ protocols: ["chat"] });
      assert.equal(other.protocol, "chat");
      await other.close();

      // An offer the server supports none of: no protocol (Bun's server takes the first one).
      const none = await open({ protocols: ["mqtt"] });
      assert.equal(none.protocol, features.unsupportedOffer === "first" ? "mqtt" : null);
      await none.close();
    });

    test("permessage-deflate negotiated; large compressible messages round-trip, compressed on the wire", {
      skip: features.compression ? false : `${kind.name} does not negotiate permessage-deflate`,
    }, async () => {
      // A proxy in between records the frames both ways (their RSV1 bit and their size on the wire).
      const tap = await WireTap.start(peer.port);
      try {
        const session = await open({ extensions: { compressIfBiggerThan: 0 } }, `ws://127.0.0.1:${tap.port}/`);
        assert.equal(session.extensions.length, 1);
        const extension = session.extensions[0] as PerMessageDeflateExtension;
        assert.equal(extension.name, "permessage-deflate");
        const wire = tap.connections[0];
        assert.match(wire.responseHeader("sec-websocket-extensions") ?? "", /^permessage-deflate/);
        const text = "compress me, please ✓ ".repeat(200_000); // 4.6 MB of UTF-8
        await session.sendText(text);
        assert.equal(await within(nextMessage(session), { timeout: 60_000, message: "the text echo" }), text);
        const binary = new Uint8Array(8 * MiB).map((_, i) => (i >> 12) & 0xff);
        await session.sendBinary(binary);
        sameBytes(
          await within(nextMessage(session), { timeout: 60_000, message: "the binary echo" }),
          binary,
          "binary",
        );
        for (let i = 0; i < 3; i++) {
          // Several messages on one connection: context takeover (when negotiated) both ways.
          await session.sendText(`${i} `.repeat(5_000));
          assert.equal(await nextMessage(session), `${i} `.repeat(5_000));
        }
        await session.close();
        // Every message went compressed both ways (RSV1), and the large ones took a fraction of their size.
        for (
          const [direction, messages] of [
            ["client → server", wire.fromClient.messages()],
            ["server → client", wire.fromServer.messages()],
          ] as const
        ) {
          assert.equal(messages.length, 5, direction);
          assert.ok(messages.every((m) => m.rsv === 4), `${direction}: RSV1 on every message`);
          assert.ok(messages[0].payload.length < text.length / 20, `${direction}: ${messages[0].payload.length} B`);
          assert.ok(messages[1].payload.length < binary.length / 20, `${direction}: ${messages[1].payload.length} B`);
        }
      } finally {
        await tap.close();
      }
    });

    test("without the client's offer, no extension", async () => {
      const session = await open({ extensions: false });
      assert.deepEqual(session.extensions, []);
      await session.sendText("plain");
      assert.equal(await nextMessage(session), "plain");
      await session.close();
    });

    test("wss:// with a CA made for this run", {
      skip: kind.tls ? false : `${kind.name} cannot serve TLS`,
    }, async () => {
      const secure = await kind.start(certs);
      try {
        assert.ok(secure.url.startsWith("wss://"));
        const session = await connect(secure.url.replace("127.0.0.1", "localhost"), {
          caCerts: [certs.ca],
          protocols: ["chat"],
          maxMessageSize: 32 * MiB,
        });
        sessions.push(session);
        assert.equal(session.protocol, "chat");
        await session.sendText("over TLS ✓");
        assert.equal(await nextMessage(session), "over TLS ✓");
        const big = pattern(MiB + 3);
        await session.sendBinary(big);
        sameBytes(await within(nextMessage(session), { timeout: 30_000, message: "the TLS echo" }), big, "TLS echo");
        await session.sendText("close:4001:bye over TLS");
        assert.equal(await nextMessage(session), null);
        assert.deepEqual(await session.closeReason, new CloseReason(4001, "bye over TLS"));
        await within(session.close(), { timeout: 10_000, message: "the TLS connection to finish" });
      } finally {
        await secure.close();
      }
    });
  });
}
