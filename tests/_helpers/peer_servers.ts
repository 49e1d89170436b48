/**
 * WebSocket echo servers we did not write, for client interop tests: `ws`
 * in-process (plain, permessage-deflate, TLS), `Deno.serve` +
 * `Deno.upgradeWebSocket` in a deno child, `Bun.serve` in a bun child, and
 * Python's `websockets` in a python3 child. Children run the binaries in
 * node_modules (or /usr/bin/python3) whatever runtime hosts the test.
 *
 * Every peer listens on 127.0.0.1, port 0, and speaks the same small
 * protocol, so one test can drive them all:
 *
 * - binary messages are echoed as binary, text messages as text, except the
 *   text requests below;
 * - `fragmented` → the text `FRAGMENTS` (peer_protocol.ts) joined, sent as one
 *   message in `FRAGMENTS.length` frames (peers without `fragmented`, whose
 *   API cannot send a fragment, reply `unsupported:fragmented`);
 * - `close:CODE:REASON` → the server closes with CODE and REASON (the reason
 *   is everything after the second colon);
 * - `ping:PAYLOAD` → the server sends a ping with PAYLOAD, and once the
 *   client's pong arrives, the text `pong:` + the pong's payload (peers
 *   without `ping` reply `unsupported:ping`);
 * - `headers` → JSON `PeerRequestInfo` (peer_protocol.ts): the upgrade request's path,
 *   headers and the subprotocol the server chose.
 *
 * Subprotocols: each peer picks the first protocol of the client's offer that
 * is in `PEER_PROTOCOLS` (`chat`, `superchat`), and none when there is no
 * such protocol — except where the runtime decides otherwise (see
 * `PeerFeatures.unsupportedOffer` and `compactOffer`: Bun, Deno).
 */
export { choosePeerProtocol, FRAGMENTS, PEER_PROTOCOLS, type PeerRequestInfo } from "./peer_protocol.ts";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { choosePeerProtocol, FRAGMENTS, type PeerRequestInfo } from "./peer_protocol.ts";
import type { TestCertificates } from "./tls.ts";
import { wsPackage, type WsServerSocket } from "./ws_package.ts";

/** What a peer's API lets it do beyond echoing, closing and reporting headers. */
export interface PeerFeatures {
  /** It can send a message in several frames (`fragmented`). */
  fragmented: boolean;
  /** It can send a ping with a payload and report the pong (`ping:`). */
  ping: boolean;
  /** It negotiates permessage-deflate when the client offers it. */
  compression: boolean;
  /**
   * What it answers to an offer with none of `PEER_PROTOCOLS`: `none` (no
   * protocol, as RFC 6455 says) or `first` (Bun: when the app chooses none,
   * `server.upgrade` accepts the client's first protocol).
   */
  unsupportedOffer: "none" | "first";
  /**
   * It reads a multi-protocol offer written `a,b` (ws's form). Deno's
   * `upgradeWebSocket` splits the offer on ", " only, so it throws (a 500)
   * when the peer picks a protocol from `a,b`; `a, b` (browsers' form) works.
   */
  compactOffer: boolean;
}

/** A running peer. */
export interface Peer {
  /** Which peer, e.g. `ws+deflate` or `python-websockets (tls)`. */
  readonly name: string;
  /** `ws://127.0.0.1:PORT/` or, over TLS, `wss://127.0.0.1:PORT/`. */
  readonly url: string;
  readonly port: number;
  readonly features: PeerFeatures;
  /** Stops it: connections dropped, listener closed, child process killed and reaped. */
  close(): Promise<void>;
}

/** How to start one kind of peer, for tests that loop over them all. */
export interface PeerKind {
  readonly name: string;
  readonly features: PeerFeatures;
  /** Whether it can serve TLS (`start(certs)`). */
  readonly tls: boolean;
  /** Why it cannot run here (a one-line reason), or `false`. */
  readonly skip: string | false;
  /** Starts it, over TLS with `certs` (server certificate and key) when given. */
  start(certs?: TestCertificates): Promise<Peer>;
}

// ---------------------------------------------------------------------------
// ws, in-process

function wsRequestInfo(request: IncomingMessage, protocol: string): PeerRequestInfo {
  const headers: Record<string, string> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i].toLowerCase();
    headers[name] = name in headers ? `${headers[name]}, ${request.rawHeaders[i + 1]}` : request.rawHeaders[i + 1];
  }
  return { path: request.url ?? "", headers, protocol };
}

function serveWsConnection(socket: WsServerSocket, request: IncomingMessage): void {
  socket.on("error", () => {}); // a client that breaks the protocol: ws closes the connection itself
  socket.on("pong", (data) => socket.send(`pong:${data.toString()}`));
  socket.on("message", (data, binary) => {
    if (binary) return socket.send(data, { binary: true });
    const text = data.toString();
    if (text === "fragmented") {
      FRAGMENTS.forEach((part, i) => socket.send(part, { fin: i === FRAGMENTS.length - 1 }));
    } else if (text === "headers") {
      socket.send(JSON.stringify(wsRequestInfo(request, socket.protocol)));
    } else if (text.startsWith("close:")) {
      const rest = text.slice(6);
      const colon = rest.indexOf(":");
      socket.close(Number(rest.slice(0, colon)), rest.slice(colon + 1));
    } else if (text.startsWith("ping:")) {
      socket.ping(text.slice(5));
    } else socket.send(text);
  });
}

/** What `ws` can do: everything (compression only when started with `perMessageDeflate`). */
export const WS_PEER_FEATURES: PeerFeatures = {
  fragmented: true,
  ping: true,
  compression: false,
  unsupportedOffer: "none",
  compactOffer: true,
};

/** Options of {@linkcode startWsPeer}. */
export interface WsPeerOptions {
  /** Negotiate permessage-deflate (ws's default parameters). Default false. */
  perMessageDeflate?: boolean;
  /** Serve `wss://` with these certificates (clients trust `certs.ca`). */
  tls?: TestCertificates;
}

/**
 * A `ws` 8.23 WebSocketServer in this process, on an HTTP (or HTTPS) server:
 * supports everything (fragmented, ping, compression when asked, TLS).
 *
 * @example
 * ```ts
 * const peer = await startWsPeer({ perMessageDeflate: true });
 * try {
 *   console.log(peer.url); // ws://127.0.0.1:PORT/
 * } finally {
 *   await peer.close();
 * }
 * ```
 */
export async function startWsPeer(options: WsPeerOptions = {}): Promise<Peer> {
  const perMessageDeflate = options.perMessageDeflate ?? false;
  const http: HttpServer = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key })
    : createHttpServer();
  http.on("request", (_request, response) => response.writeHead(426).end("websocket only"));
  const wss = new wsPackage.WebSocketServer({
    server: http,
    perMessageDeflate,
    handleProtocols: (offer) => choosePeerProtocol(offer) || false,
  });
  wss.on("connection", serveWsConnection);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const name = `ws${perMessageDeflate ? "+deflate" : ""}${options.tls ? " (tls)" : ""}`;
  return {
    name,
    url: `${options.tls ? "wss" : "ws"}://127.0.0.1:${port}/`,
    port,
    features: { ...WS_PEER_FEATURES, compression: perMessageDeflate },
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------
// Child processes

const ROOT = new URL("../../", import.meta.url);
/** The deno binary of node_modules. */
export const DENO_BIN: string = fileURLToPath(new URL("node_modules/.bin/deno", ROOT));
/** The bun binary of node_modules. */
export const BUN_BIN: string = fileURLToPath(new URL("node_modules/.bin/bun", ROOT));
/** The Python that has the `websockets` package (Debian's python3-websockets). */
export const PYTHON_BIN = "/usr/bin/python3";

function helperFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** A running child process that printed `listening on PORT`. */
interface ListeningChild {
  port: number;
  kill(): Promise<void>;
}

/**
 * Spawns `command`, waits (20 s at most) for its `listening on PORT` line; `kill`
 * sends SIGKILL and resolves once the child is reaped. TLS certificate and key
 * files go in `HYBI_PEER_CERT_FILE` / `HYBI_PEER_KEY_FILE`.
 */
async function startListeningChild(command: string[], certs: TestCertificates | undefined): Promise<ListeningChild> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  if (certs) {
    env.HYBI_PEER_CERT_FILE = certs.certFile;
    env.HYBI_PEER_KEY_FILE = certs.keyFile;
  }
  const child: ChildProcess = spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command.join(" ")} did not start:\n${out}`)), 20_000);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.stdout!.on("data", (chunk: Uint8Array) => {
        out += new TextDecoder().decode(chunk);
        const at = out.indexOf("listening on ");
        const end = out.indexOf("\n", at);
        if (at >= 0 && end > 0) {
          clearTimeout(timer);
          resolve(Number(out.slice(at + 13, end).trim()));
        }
      });
      child.stderr!.on("data", (chunk: Uint8Array) => out += new TextDecoder().decode(chunk));
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${command.join(" ")} exited:\n${out}`));
      });
    });
    return { port, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

async function startChildPeer(
  name: string,
  command: string[],
  features: PeerFeatures,
  certs: TestCertificates | undefined,
): Promise<Peer> {
  const child = await startListeningChild(command, certs);
  return {
    name: certs ? `${name} (tls)` : name,
    url: `${certs ? "wss" : "ws"}://127.0.0.1:${child.port}/`,
    port: child.port,
    features,
    close: child.kill,
  };
}

/**
 * What `Deno.serve` + `Deno.upgradeWebSocket` can do: no fragment, no ping
 * API, no permessage-deflate; a multi-protocol offer only as `a, b`.
 */
export const DENO_PEER_FEATURES: PeerFeatures = {
  fragmented: false,
  ping: false,
  compression: false,
  unsupportedOffer: "none",
  compactOffer: false,
};

/**
 * `Deno.serve` + `Deno.upgradeWebSocket` (tests/_helpers/peer_deno_server.ts)
 * in a child process of node_modules' deno; over TLS with `certs`.
 *
 * @example
 * ```ts
 * const peer = await startDenoPeer();
 * await peer.close();
 * ```
 */
export function startDenoPeer(certs?: TestCertificates): Promise<Peer> {
  const command = [DENO_BIN, "run", "--allow-net", "--allow-env", "--allow-read", helperFile("peer_deno_server.ts")];
  return startChildPeer("deno", command, DENO_PEER_FEATURES, certs);
}

/**
 * What `Bun.serve`'s websocket can do: ping with payload and
 * permessage-deflate, no fragment; it takes the client's first protocol when
 * the offer has none it supports.
 */
export const BUN_PEER_FEATURES: PeerFeatures = {
  fragmented: false,
  ping: true,
  compression: true,
  unsupportedOffer: "first",
  compactOffer: true,
};

/**
 * `Bun.serve` with `websocket` handlers and `perMessageDeflate: true`
 * (tests/_helpers/peer_bun_server.ts) in a child process of node_modules'
 * bun; over TLS with `certs`.
 *
 * @example
 * ```ts
 * const peer = await startBunPeer();
 * await peer.close();
 * ```
 */
export function startBunPeer(certs?: TestCertificates): Promise<Peer> {
  return startChildPeer("bun", [BUN_BIN, helperFile("peer_bun_server.ts")], BUN_PEER_FEATURES, certs);
}

/**
 * What Python's `websockets` can do: everything (fragments from an iterable,
 * then an empty final continuation frame; compression by default).
 */
export const PYTHON_PEER_FEATURES: PeerFeatures = {
  fragmented: true,
  ping: true,
  compression: true,
  unsupportedOffer: "none",
  compactOffer: true,
};

function pythonWebsocketsVersion(): string | null {
  const probe = spawnSync(PYTHON_BIN, ["-c", "import websockets; print(websockets.__version__)"], {
    encoding: "utf8",
  });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** Why the Python peer cannot run here, or `false`. */
export const pythonPeerSkip: string | false = pythonWebsocketsVersion() === null
  ? `${PYTHON_BIN} with the websockets package is not installed (.ci/run installs python3-websockets)`
  : false;

/**
 * Python's `websockets` (asyncio server of its legacy API, 10.4 on Debian 12;
 * compression on by default) running tests/_helpers/peer_python_server.py in
 * a `/usr/bin/python3` child; over TLS with `certs`. Check
 * {@linkcode pythonPeerSkip} first.
 *
 * @example
 * ```ts
 * if (!pythonPeerSkip) {
 *   const peer = await startPythonPeer();
 *   await peer.close();
 * }
 * ```
 */
export function startPythonPeer(certs?: TestCertificates): Promise<Peer> {
  if (pythonPeerSkip) throw new Error(pythonPeerSkip);
  return startChildPeer(
    "python-websockets",
    [PYTHON_BIN, "-u", helperFile("peer_python_server.py")],
    PYTHON_PEER_FEATURES,
    certs,
  );
}

/** Every peer, for tests that run the same checks on each. */
export const PEER_KINDS: readonly PeerKind[] = [
  {
    name: "ws",
    features: WS_PEER_FEATURES,
    tls: true,
    skip: false,
    start: (certs) => startWsPeer({ tls: certs }),
  },
  {
    name: "ws+deflate",
    features: { ...WS_PEER_FEATURES, compression: true },
    tls: true,
    skip: false,
    start: (certs) => startWsPeer({ perMessageDeflate: true, tls: certs }),
  },
  { name: "deno", features: DENO_PEER_FEATURES, tls: true, skip: false, start: startDenoPeer },
  { name: "bun", features: BUN_PEER_FEATURES, tls: true, skip: false, start: startBunPeer },
  {
    name: "python-websockets",
    features: PYTHON_PEER_FEATURES,
    tls: true,
    skip: pythonPeerSkip,
    start: startPythonPeer,
  },
];
