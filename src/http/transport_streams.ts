/**
 * The web byte-stream pair an engine hands to `upgrade()`. Both streams
 * carry the same native transport under `TRANSPORT`, so that `upgrade()`
 * runs the session on it directly; the streams themselves start the
 * transport only when someone reads or writes them, so they also work for
 * any other consumer.
 *
 * @module
 */
import { plainView, TRANSPORT, type Transport } from "../transport.ts";

/** A byte-stream pair over one transport. */
export interface TransportStreams {
  /** Bytes from the peer. */
  input: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  output: WritableStream<Uint8Array>;
}

/**
 * Builds the stream pair over `transport` and attaches `transport` to both
 * under {@linkcode TRANSPORT}.
 */
export function transportStreams(transport: Transport): TransportStreams {
  let started = false;
  let inputClosed = false;
  let drained: (() => void) | null = null;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const wakeWriter = () => {
    const d = drained;
    drained = null;
    d?.();
  };
  const start = () => {
    started = true;
    transport.start({
      data(chunk) {
        if (inputClosed) return;
        controller.enqueue(plainView(chunk));
        // No reader is waiting: stop until the next pull.
        if ((controller.desiredSize ?? 0) <= 0) transport.pause();
      },
      end(error) {
        // A failed socket cannot take more writes either.
        if (error !== undefined) wakeWriter();
        if (inputClosed) return;
        inputClosed = true;
        if (error === undefined) controller.close();
        else controller.error(error);
      },
      drain: wakeWriter,
    });
  };

  const input = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    pull() {
      if (started) transport.resume();
      else start();
    },
    cancel(reason) {
      inputClosed = true;
      transport.destroy(reason);
    },
  }, { highWaterMark: 0 });

  const output = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!started) {
        // Written before read: start, but read nothing until someone pulls.
        start();
        transport.pause();
      }
      // The caller may reuse `chunk` once this resolves, and the transport
      // keeps what it is given: hand it a copy.
      if (!transport.write(chunk.slice())) {
        await new Promise<void>((resolve) => drained = resolve);
      }
    },
    async close() {
      if (!started) {
        start();
        transport.pause();
      }
      transport.end();
      await transport.flushed();
    },
    abort(reason) {
      transport.destroy(reason);
    },
  });
  Object.defineProperty(input, TRANSPORT, { value: transport });
  Object.defineProperty(output, TRANSPORT, { value: transport });
  return { input, output };
}
