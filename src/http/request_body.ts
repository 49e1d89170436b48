/**
 * One request's body on its way from the socket to the handler: the bytes
 * the connection reads are decoded ({@linkcode BodyDecoder}) into the
 * `ReadableStream` the handler's `Request` carries. The stream's queue has
 * a high-water mark: when the handler reads slower than the client sends,
 * the socket is paused until the handler pulls again.
 *
 * @module
 */
import { BodyDecoder } from "./body_decoder.ts";
import { HttpError } from "./http_error.ts";
import { plainView } from "../transport.ts";

/** Request-body bytes queued for the handler above which the socket stops being read. */
export const BODY_HIGH_WATER_MARK = 64 * 1024;

function byteLength(chunk: Uint8Array): number {
  return chunk.byteLength;
}

/** One strategy for every body stream: a closure per request would buy nothing. */
const BODY_STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: BODY_HIGH_WATER_MARK, size: byteLength };

/**
 * Where a request body stops and restarts the socket's reading: the HTTP
 * connection, which also pauses the socket for reasons of its own and so
 * decides when it really reads again.
 */
export interface BodyFlow {
  /** The body's queue is full: stop reading the socket. */
  pauseBody(): void;
  /** The body no longer holds the socket back (the handler pulled, or nobody reads the body any more). */
  resumeBody(): void;
}

/**
 * A request body: its decoder and, while the handler may read it, its
 * stream's controller. The object is the stream's underlying source
 * (`start`, `pull`, `cancel`), so that a request body costs no closures.
 */
export class RequestBody {
  readonly #decoder: BodyDecoder;
  readonly #flow: BodyFlow;
  // Null when there is no stream (a body on a GET or HEAD is read and dropped),
  // once the stream is closed or errored, and once nobody reads it any more.
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  // BodyDecoder hands decoded pieces to a callback: one per body, not one per chunk read.
  readonly #deliver = (piece: Uint8Array): void => this.#enqueue(piece);

  /**
   * A body about to arrive; its stream, if the handler gets one, is made by {@linkcode RequestBody.stream}.
   *
   * @param contentLength The body's length, or -1 for a chunked body.
   * @param maxBodySize Largest body accepted; a chunked body growing beyond it fails with 413.
   * @param flow Told when the socket's reading must stop and may restart for this body.
   */
  constructor(contentLength: number, maxBodySize: number, flow: BodyFlow) {
    this.#decoder = new BodyDecoder(contentLength, maxBodySize);
    this.#flow = flow;
  }

  /** The stream the handler reads the body from. Made at most once, before any byte is read. */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(this, BODY_STRATEGY);
  }

  /** Whether the whole body has been read from the socket. */
  get done(): boolean {
    return this.#decoder.done;
  }

  /**
   * Decodes body bytes from `chunk[offset]` into the stream. When the body
   * ends, the stream is closed and the socket is no longer held back by it.
   *
   * @returns The index in `chunk` just after the body's last byte read: what follows belongs to the next request.
   * @throws {HttpError} 400 on malformed chunked framing, 413 beyond the largest body accepted.
   */
  read(chunk: Uint8Array, offset: number): number {
    const decoder = this.#decoder;
    let end: number;
    try {
      end = decoder.decode(chunk, offset, this.#deliver);
    } catch (error) {
      throw error instanceof HttpError ? error : new HttpError(400, "malformed request body");
    }
    if (decoder.done) {
      // Whatever follows the body is held by the connection with its own limit, not the body's.
      this.#flow.resumeBody();
      const controller = this.#controller;
      this.#controller = null;
      if (controller !== null) {
        try {
          controller.close();
        } catch {
          // The stream was errored or cancelled meanwhile.
        }
      }
    }
    return end;
  }

  /** The response is done before the body: the rest is read and dropped. */
  detach(): void {
    this.#controller = null;
    this.#flow.resumeBody();
  }

  /**
   * The body cannot be read to its end (malformed, too large, the client
   * went away): the handler's next read fails with `error`. The socket's
   * reading is left as it is: the connection decides what happens to it.
   */
  fail(error: HttpError): void {
    const controller = this.#controller;
    this.#controller = null;
    if (controller === null) return;
    try {
      controller.error(error);
    } catch {
      // Already closed.
    }
  }

  // ---- the stream's underlying source ----

  /** The stream is made: keeps its controller. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  /** The handler wants more: the socket may be read again. */
  pull(): void {
    this.#flow.resumeBody();
  }

  /** The handler does not want the rest: it is read and dropped. */
  cancel(): void {
    this.detach();
  }

  #enqueue(piece: Uint8Array): void {
    const controller = this.#controller;
    if (controller === null || piece.length === 0) return;
    // Engines hand on the runtime's Buffer, which must not reach the application.
    controller.enqueue(plainView(piece));
    if ((controller.desiredSize ?? 1) <= 0) this.#flow.pauseBody();
  }
}
