/**
 * Self-tests of the peer fixtures (tests/_helpers/peer_servers.ts) with the
 * `ws` 8.23 client: each peer echoes text and binary, answers the control
 * requests (fragmented, close, ping, headers) as its features say, picks the
 * subprotocol from the offer, negotiates compression when it can, and serves
 * TLS with the per-run CA. Fragmentation is also checked on the wire with a
 * raw client, so a peer cannot pass by sending one frame.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FRAGMENTS, type Peer, PEER_KINDS, type PeerRequestInfo } from "./_helpers/peer_servers.ts";
import { RawClient } from "./_helpers/raw_client.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { WsRecorder } from "./_helpers/ws_package.ts";

let certs: TestCertificates;
before(async () => {
  certs = await makeCertificates();
});
after(async () => {
  await certs?.remove();
});

for (const kind of PEER_KINDS) {
  describe(`peer ${kind.name}`, { skip: kind.skip }, () => {
    let peer: Peer;
    const clients: WsRecorder[] = [];
    /** A ws client of the peer (terminated after the suite). */
    const connect = (protocols: string[] = [], options: ConstructorParameters<typeof WsRecorder>[2] = {}) => {
      const client = new WsRecorder(peer.url, protocols, options);
      clients.push(client);
      return client;
    };
    before(async () => {
      peer = await kind.start();
    });
    after(async () => {
      for (const client of clients) client.client.terminate();
      await peer?.close();
    });

    test("echoes text and binary; compression as its features say", async () => {
      const client = connect();
      await client.open();
      assert.equal(client.client.extensions, kind.features.compression ? "permessage-deflate" : "");
      client.client.send("hello ✓ ".repeat(200));
      client.client.send(new Uint8Array([0, 1, 2, 255]));
      assert.equal(await client.message(1), "hello ✓ ".repeat(200));
      assert.deepEqual(await client.message(2), new Uint8Array([0, 1, 2, 255]));
      client.client.close(1000, "done");
      assert.deepEqual(await client.close(), { code: 1000, reason: "done" });
    });

    test("fragmented: one message in several frames, or unsupported", async () => {
      const client = connect();
      await client.open();
      client.client.send("fragmented");
      assert.equal(await client.message(1), kind.features.fragmented ? FRAGMENTS.join("") : "unsupported:fragmented");
      if (!kind.features.fragmented) return;
      // On the wire, without compression: text, continuation…, the last with FIN (Python's
      // websockets ends with an empty continuation frame of its own).
      const raw = await RawClient.open(peer.port);
      try {
        await raw.send([{ opcode: 1, payload: "fragmented" }]);
        const frames = [];
        for (;;) {
          const frame = await raw.next();
          assert.ok(frame !== null, "a frame");
          frames.push(frame);
          if (frame.fin) break;
        }
        assert.ok(frames.length >= FRAGMENTS.length, `${frames.length} frames`);
        assert.deepEqual(frames.map((f) => f.opcode), [1, ...frames.slice(1).map(() => 0)]);
        const payloads = frames.map((f) => new TextDecoder().decode(f.payload)).filter((p) => p !== "");
        assert.deepEqual(payloads, FRAGMENTS);
      } finally {
        raw.close();
      }
    });

    test("close:CODE:REASON closes with that code and reason", async () => {
      const client = connect();
      await client.open();
      client.client.send("close:4001:bye: see you");
      assert.deepEqual(await client.close(), { code: 4001, reason: "bye: see you" });
    });

    test("ping:PAYLOAD sends a ping and reports the pong, or unsupported", async () => {
      const client = connect();
      await client.open();
      client.client.send("ping:are you there");
      if (kind.features.ping) {
        assert.equal(await client.message(1), "pong:are you there");
        assert.deepEqual(client.pings, ["are you there"]);
      } else assert.equal(await client.message(1), "unsupported:ping");
    });

    test("headers reports the upgrade request; the protocol is the offer's first supported one", async () => {
      // Deno reads a multi-protocol offer only as "a, b", and ws writes "a,b" (see the next test).
      const offer = kind.features.compactOffer ? ["mqtt", "superchat", "chat"] : ["superchat"];
      const client = new WsRecorder(`${peer.url}some/path?q=1`, offer, {
        origin: "http://example.test",
        headers: { "X-Hybi-Test": "yes" },
      });
      clients.push(client);
      await client.open();
      assert.equal(client.client.protocol, "superchat");
      client.client.send("headers");
      const info = JSON.parse(String(await client.message(1))) as PeerRequestInfo;
      assert.equal(info.path, "/some/path?q=1");
      assert.equal(info.protocol, "superchat");
      assert.equal(info.headers["x-hybi-test"], "yes");
      assert.equal(info.headers.origin, "http://example.test");
      assert.equal(info.headers["sec-websocket-protocol"], offer.join(","));
      assert.equal(info.headers.upgrade?.toLowerCase(), "websocket");
    });

    test("an offer written a,b", async () => {
      const client = connect(["mqtt", "superchat"]);
      if (kind.features.compactOffer) {
        await client.open();
        assert.equal(client.client.protocol, "superchat");
      } else assert.equal((await client.error()).message, "Unexpected server response: 500");
    });

    test("no protocol without an offer; an offer with none it supports", async () => {
      const none = connect();
      await none.open();
      assert.equal(none.client.protocol, "");
      none.client.send("headers");
      assert.equal((JSON.parse(String(await none.message(1))) as PeerRequestInfo).protocol, "");
      const unsupported = connect(["mqtt"]);
      if (kind.features.unsupportedOffer === "none") {
        assert.equal((await unsupported.error()).message, "Server sent no subprotocol");
      } else {
        await unsupported.open();
        assert.equal(unsupported.client.protocol, "mqtt");
      }
    });

    test("over TLS with the per-run CA", { skip: kind.tls ? false : "no TLS" }, async () => {
      const secure = await kind.start(certs);
      try {
        assert.ok(secure.url.startsWith("wss://"));
        const client = new WsRecorder(secure.url, [], { ca: certs.ca });
        clients.push(client);
        await client.open();
        client.client.send("over tls");
        assert.equal(await client.message(1), "over tls");
        client.client.send("close:4002:tls bye");
        assert.deepEqual(await client.close(), { code: 4002, reason: "tls bye" });
      } finally {
        await secure.close();
      }
    });
  });
}
