/**
 * Writing one HTTP/1.1 response on a socket: the head the response's
 * framing calls for (RFC 9112 §6), then its body with a `Content-Length`,
 * in chunks, or (to an HTTP/1.0 client) up to the end of the connection,
 * waiting for the transport's drain whenever its queue is full.
 *
 * @module
 */
import { hasToken } from "../handshake.ts";
import type { Transport } from "../transport.ts";
import {
  chunkEnd,
  encodeChunk,
  encodeChunkSize,
  encodeHead,
  lastChunk,
  type ResponseFraming,
  responseHead,
} from "./response_head.ts";

/** Response bytes gathered before deciding on Content-Length or chunked. */
const BUFFER_LIMIT = 64 * 1024;
/** Largest head + body written as one buffer. */
const COALESCE_LIMIT = 64 * 1024;

/** What a write waiting for the transport's drain fails with once the socket is closed. */
export const CONNECTION_GONE: Error = new Error("the connection is closed");

/** The request a response answers, as far as its framing depends on it. */
export interface RequestLine {
  /** The method, as sent: a `HEAD` response has no body. */
  readonly method: string;
  /** The minor HTTP version: an HTTP/1.0 client gets no chunked body. */
  readonly minorVersion: number;
}

/** The connection a response is written for: whether it stays open afterwards. */
export interface ResponseOwner {
  /**
   * Whether the connection stays open after this response. Read when the
   * head is made: a shutdown or a failed request body may have ended it
   * since the handler was called.
   */
  readonly keepAlive: boolean;
  /** This response ends the connection: it says `Connection: close`, or its end is the end of the connection. */
  endAfterResponse(): void;
}

const LATER: unique symbol = Symbol("later");

/** Settles like `p` if it settles before the next macrotask, else with `LATER`. */
function beforeNextTask<T>(p: Promise<T>): Promise<T | typeof LATER> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(LATER), 0);
    p.then((v) => {
      clearTimeout(timer);
      resolve(v);
    }, (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError("a response body chunk is not bytes");
}

/** `Content-Length` of a response, or -1 when absent or not a plain number. */
function declaredLength(value: string | null): number {
  if (value === null || value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function ignore(): void {}

/**
 * Writes one response. Made per response, not per connection: an idle
 * connection holds none. The connection forwards the transport's drain
 * (`drained()`) and the socket's close (`closed()`) while it is writing.
 */
export class ResponseWriter {
  readonly #transport: Pick<Transport, "write">;
  readonly #owner: ResponseOwner;
  readonly #framing: ResponseFraming = { contentLength: -1, chunked: false, close: false, keepAlive: false };
  #http10 = false;
  // Body bytes written, checked against a Content-Length.
  #written = 0;
  #closed = false;
  #drainWaiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;

  /**
   * A writer for the next response on `transport`.
   *
   * @param transport The socket's transport.
   * @param owner The connection: whether it stays open after the response.
   */
  constructor(transport: Pick<Transport, "write">, owner: ResponseOwner) {
    this.#transport = transport;
    this.#owner = owner;
  }

  /** From the connection: the transport's queue fell below its high-water mark. */
  drained(): void {
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.resolve();
  }

  /** From the connection: the socket is closed. A write waiting for drain fails with {@linkcode CONNECTION_GONE}. */
  closed(): void {
    this.#closed = true;
    const w = this.#drainWaiter;
    this.#drainWaiter = null;
    w?.reject(CONNECTION_GONE);
  }

  /**
   * Writes `response` as the answer to `request`. A body with no declared
   * length that ends before the next macrotask (up to 64 KiB) gets a
   * `Content-Length`; a longer one is chunked, or to an HTTP/1.0 client
   * ends the connection.
   *
   * @throws {Error} {@linkcode CONNECTION_GONE} when the socket closed; the body's
   *   error or a length mismatch after the head was sent (the framing is lost: the
   *   connection must be dropped). The body is cancelled.
   */
  async write(response: Response, request: RequestLine): Promise<void> {
    const status = response.status;
    const headers = response.headers;
    const framing = this.#framing;
    if (hasToken(headers.get("connection"), "close")) this.#owner.endAfterResponse();
    this.#http10 = request.minorVersion === 0;
    const body = response.body;
    const declared = declaredLength(headers.get("content-length"));
    if (status === 204 || status === 304) {
      body?.cancel().catch(ignore);
      if (status === 304) framing.contentLength = declared;
      const w = this.#writeHead(responseHead(status, response.statusText, headers, this.#connectionHeaders()));
      if (w !== undefined) await w;
      return;
    }
    const isHead = request.method === "HEAD";
    if (body === null) {
      framing.contentLength = isHead && declared >= 0 ? declared : 0;
      const w = this.#writeHead(responseHead(status, response.statusText, headers, this.#connectionHeaders()));
      if (w !== undefined) await w;
      return;
    }

    const reader = body.getReader();
    try {
      const buffered: Uint8Array[] = [];
      let bufferedBytes = 0;
      let next: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
      let length = declared;
      if (length < 0) {
        // Gather what the body has ready: if it ends before the next
        // macrotask, its length is known and goes in Content-Length.
        let result = await reader.read();
        for (;;) {
          if (result.done) {
            length = bufferedBytes;
            break;
          }
          const piece = asBytes(result.value);
          if (piece.length > 0) {
            buffered.push(piece);
            bufferedBytes += piece.length;
          }
          if (bufferedBytes >= BUFFER_LIMIT) break;
          const pendingRead = reader.read();
          const raced = await beforeNextTask(pendingRead);
          if (raced === LATER) {
            next = pendingRead;
            break;
          }
          result = raced;
        }
      }
      if (length >= 0) framing.contentLength = length;
      else if (this.#http10) this.#owner.endAfterResponse(); // the end of the body is the end of the connection
      else framing.chunked = true;
      const headText = responseHead(status, response.statusText, headers, this.#connectionHeaders());
      if (isHead) {
        reader.cancel().catch(ignore);
        const w = this.#writeHead(headText);
        if (w !== undefined) await w;
        return;
      }
      if (!framing.chunked && headText.length + bufferedBytes <= COALESCE_LIMIT) {
        // One write for a small response.
        this.#written = bufferedBytes;
        if (framing.contentLength >= 0 && bufferedBytes > framing.contentLength) {
          throw new Error("the response body is longer than its Content-Length");
        }
        const w = this.#write(encodeHead(headText, buffered, bufferedBytes));
        if (w !== undefined) await w;
      } else {
        const w = this.#writeHead(headText);
        if (w !== undefined) await w;
        for (const piece of buffered) await this.#writePiece(piece);
      }
      if (next !== null || bufferedBytes >= BUFFER_LIMIT || declared >= 0) {
        for (;;) {
          const result = await (next ?? reader.read());
          next = null;
          if (result.done) break;
          const piece = asBytes(result.value);
          if (piece.length > 0) await this.#writePiece(piece);
        }
      }
      if (framing.contentLength >= 0 && this.#written !== framing.contentLength) {
        throw new Error("the response body is shorter than its Content-Length");
      }
      if (framing.chunked) {
        const w = this.#write(lastChunk());
        if (w !== undefined) await w;
      }
    } catch (error) {
      reader.cancel(error).catch(ignore);
      throw error;
    }
  }

  /** The framing with its `Connection` header settled: what the owner decided by now. */
  #connectionHeaders(): ResponseFraming {
    const framing = this.#framing;
    const keepAlive = this.#owner.keepAlive;
    framing.close = !keepAlive;
    // HTTP/1.0 closes after each response unless told otherwise.
    framing.keepAlive = keepAlive && this.#http10;
    return framing;
  }

  #writeHead(text: string): Promise<void> | undefined {
    return this.#write(encodeHead(text));
  }

  /** Writes one piece of the body in the framing chosen. */
  async #writePiece(piece: Uint8Array): Promise<void> {
    const framing = this.#framing;
    let w: Promise<void> | undefined;
    if (framing.contentLength >= 0) {
      if (this.#written + piece.length > framing.contentLength) {
        throw new Error("the response body is longer than its Content-Length");
      }
      this.#written += piece.length;
      w = this.#write(piece);
    } else if (framing.chunked) {
      if (piece.length <= COALESCE_LIMIT) w = this.#write(encodeChunk(piece));
      else {
        // Too large to copy into one buffer: size line, data, CRLF.
        this.#put(encodeChunkSize(piece.length));
        this.#put(piece);
        w = this.#write(chunkEnd());
      }
    } else {
      w = this.#write(piece);
    }
    if (w !== undefined) await w;
  }

  /** Queues `bytes`; when the transport's queue is full, returns a promise of its drain. */
  #write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#put(bytes)) return undefined;
    return new Promise((resolve, reject) => this.#drainWaiter = { resolve, reject });
  }

  /** Queues `bytes` without waiting; returns whether the transport's queue has room. */
  #put(bytes: Uint8Array): boolean {
    if (this.#closed) throw CONNECTION_GONE;
    return this.#transport.write(bytes);
  }
}
