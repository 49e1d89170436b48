/**
 * Code written for the browser's `WebSocket`, as a page would run it: each
 * function takes the `WebSocket` class and a URL, uses only the WHATWG API,
 * and returns a transcript of what it saw. The tests run the same functions
 * with hybi's client `WebSocket` on each runtime, and in Chromium (their
 * source, through `Function.prototype.toString`), and compare transcripts.
 * They must stay self-contained: no imports, no helpers from outside.
 */

/** The part of the browser's `WebSocket` class the scenarios use (the global's, or hybi's). */
export interface BrowserWebSocketClass {
  new (url: string, protocols?: string | string[]): BrowserWebSocket;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/** The part of a browser `WebSocket` the scenarios use. */
export interface BrowserWebSocket extends EventTarget {
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly CONNECTING: 0;
  binaryType: "blob" | "arraybuffer";
  onopen: ((event: Event) => unknown) | null;
  onmessage: ((event: MessageEvent) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  onclose: ((event: Event & { code: number; reason: string; wasClean: boolean }) => unknown) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
}

/**
 * Opens, echoes text and binary with both `binaryType`s and every kind of
 * data `send` takes, checks `close`'s validation, and closes with a code and
 * reason. The server must echo, and choose `superchat` among the offered
 * subprotocols.
 */
export async function echoTranscript(WebSocketClass: BrowserWebSocketClass, url: string): Promise<string[]> {
  const log: string[] = [];
  const ws = new WebSocketClass(url, ["chat", "superchat"]);
  log.push(`constructed readyState=${ws.readyState} CONNECTING=${WebSocketClass.CONNECTING}/${ws.CONNECTING}`);
  log.push(`binaryType=${ws.binaryType} bufferedAmount=${ws.bufferedAmount}`);
  try {
    ws.send("too early");
    log.push("send while CONNECTING did not throw");
  } catch (error) {
    log.push(`send while CONNECTING: ${(error as DOMException).name}`);
  }
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("error before open"));
  });
  ws.onerror = null;
  log.push(`open readyState=${ws.readyState} protocol=${ws.protocol}`);
  // Messages in order, whether they come before or after the scenario asks for the next one.
  const queue: MessageEvent[] = [];
  let waiting: ((event: MessageEvent) => void) | null = null;
  ws.addEventListener("message", (e) => {
    const take = waiting;
    waiting = null;
    if (take !== null) take(e as MessageEvent);
    else queue.push(e as MessageEvent);
  });
  const next = () =>
    queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<MessageEvent>((resolve) => {
      waiting = resolve;
    });
  const bytesOf = async (data: unknown) =>
    Array.from(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data as ArrayBuffer)).join(",");
  const kind = (data: unknown) =>
    typeof data === "string"
      ? "string"
      : data instanceof Blob
      ? "Blob"
      : data instanceof ArrayBuffer
      ? "ArrayBuffer"
      : "?";

  ws.send("héllo, wörld");
  let event = await next();
  log.push(`text ${kind(event.data)} ${event.data}`);
  ws.send(new Uint8Array([1, 2, 3]));
  event = await next();
  log.push(`Uint8Array as ${kind(event.data)} ${await bytesOf(event.data)}`);
  ws.binaryType = "arraybuffer";
  ws.send(new Uint8Array([4, 5, 6]).buffer);
  event = await next();
  log.push(`ArrayBuffer as ${kind(event.data)} ${await bytesOf(event.data)}`);
  ws.send(new DataView(new Uint8Array([7, 8, 9, 10]).buffer, 1, 2));
  event = await next();
  log.push(`DataView as ${kind(event.data)} ${await bytesOf(event.data)}`);
  ws.send(new Blob([new Uint8Array([11, 12]), "AB"]));
  ws.send("after the blob");
  event = await next();
  log.push(`Blob as ${kind(event.data)} ${await bytesOf(event.data)}`);
  event = await next();
  log.push(`then ${kind(event.data)} ${event.data}`);
  ws.binaryType = "blob";
  const viaHandler = new Promise<MessageEvent>((resolve) => {
    ws.onmessage = resolve;
  });
  ws.send(new Uint8Array(70_000).fill(7));
  event = await viaHandler;
  log.push(`onmessage ${kind(event.data)} size=${(event.data as Blob).size}`);
  log.push(`listener too: ${(await next()) === event}`);
  ws.onmessage = null;

  for (const [code, reason] of [[999, ""], [1001, ""], [2999, ""], [5000, ""], [1000, "é".repeat(62)]] as const) {
    try {
      ws.close(code, reason);
      log.push(`close(${code}, ${reason.length} chars) did not throw`);
    } catch (error) {
      log.push(`close(${code}, ${reason.length} chars): ${(error as DOMException).name}`);
    }
  }
  log.push(`still readyState=${ws.readyState}`);
  const closed = new Promise<Event & { code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.onclose = resolve;
  });
  ws.close(4000, "bye ".repeat(30) + "end");
  log.push(`closing readyState=${ws.readyState}`);
  ws.send("dropped while CLOSING");
  const close = await closed;
  log.push(`close code=${close.code} reason=${close.reason.length} chars wasClean=${close.wasClean}`);
  log.push(`readyState=${ws.readyState}`);
  return log;
}

/**
 * Sends `close me` and reports the `close` event: the server closes with
 * 4002 "server bye".
 */
export async function serverCloseTranscript(WebSocketClass: BrowserWebSocketClass, url: string): Promise<string[]> {
  const log: string[] = [];
  const ws = new WebSocketClass(url);
  const events: string[] = [];
  for (const type of ["open", "error", "close"]) ws.addEventListener(type, () => events.push(type));
  ws.onopen = () => ws.send("close me");
  const close = await new Promise<Event & { code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.onclose = resolve;
  });
  log.push(`events ${events.join(" ")}`);
  log.push(`close code=${close.code} reason=${close.reason} wasClean=${close.wasClean} readyState=${ws.readyState}`);
  return log;
}

/**
 * A connection that fails (refused, or a handshake the server refuses), or
 * one closed while CONNECTING (`closeAtOnce`): `error`, then `close` with
 * 1006, not clean.
 */
export async function failureTranscript(
  WebSocketClass: BrowserWebSocketClass,
  url: string,
  closeAtOnce: boolean,
): Promise<string[]> {
  const ws = new WebSocketClass(url);
  const events: string[] = [];
  ws.addEventListener("open", () => events.push("open"));
  ws.onerror = (e) => events.push(`${e.type}@${ws.readyState}`);
  const close = await new Promise<Event & { code: number; reason: string; wasClean: boolean }>((resolve) => {
    ws.addEventListener("close", (e) => {
      events.push(`close@${ws.readyState}`);
      resolve(e as Event & { code: number; reason: string; wasClean: boolean });
    });
    if (closeAtOnce) {
      ws.close();
      events.push(`closed at once: readyState=${ws.readyState}`);
    }
  });
  return [`${events.join(" ")} code=${close.code} wasClean=${close.wasClean}`];
}
