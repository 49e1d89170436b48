/**
 * The output side of a connection: frames are encoded into a batch buffer
 * and the batch goes to the transport in one write, when the work of the
 * current read or I/O event is over (the flush policy below). Payloads of
 * 16 KiB and more are not copied: their header is flushed with the batch
 * and the payload written as it is, corked together where the transport
 * can gather writes.
 *
 * Flush policy, in order of precedence:
 * - inside a read on the handler path (`flushAfterRead`), the end of the
 *   read flushes, synchronously: `readEnded()`;
 * - otherwise, with the transport's `defer` hook (the engines), once the
 *   work the current I/O event started is over, promise reactions included;
 * - otherwise after a few microtask turns without a send (a `for await`
 *   application answering queued messages sends every second or third turn).
 *
 * @module
 */
import type { Frame } from "../frame/frame.ts";
import { payloadLength, payloadParts } from "../frame/frame.ts";
import { type FrameWriter, headerLength } from "../frame/frame_writer.ts";
import type { Transport } from "../transport.ts";

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = new Uint8Array(0);
/** Payloads this big are written as their own chunk rather than copied into the batch. */
export const DIRECT_WRITE_THRESHOLD = 16 * 1024;
// A frame that does not fit in the batch flushes it first; the next batch is
// then twice as large, up to a size that holds any frame below
// DIRECT_WRITE_THRESHOLD (masked frames of a client may need more).
const BATCH_INITIAL = 2048;
const BATCH_CAPACITY = DIRECT_WRITE_THRESHOLD + 16;
/** Microtask turns without a send after which a scheduled flush goes out (no `defer` hook). */
const FLUSH_PATIENCE = 3;

// One flush task per turn for all the batchers waiting, not one each: a publish to 1,000 subscribers
// schedules one task, and a batcher holds no closure for it.
/** Batchers waiting for the end of the current I/O event (transports with `defer`). */
const deferred: OutputBatcher[] = [];
let deferredScheduled = false;
/** Batchers waiting for quiet microtask turns (transports without `defer`). */
const quiet: OutputBatcher[] = [];
let quietScheduled = false;

function flushDeferred(): void {
  deferredScheduled = false;
  // A batcher that sends again while these flush joins a new list (and a new task).
  const batchers = deferred.splice(0, deferred.length);
  for (const batcher of batchers) batcher.deferredFlush();
}

function checkQuiet(): void {
  quietScheduled = false;
  let kept = 0;
  // Batchers added during the pass are visited in it too (the loop reads the length each time).
  for (let i = 0; i < quiet.length; i++) {
    const batcher = quiet[i];
    if (!batcher.quietTurn()) quiet[kept++] = batcher;
  }
  quiet.length = kept;
  if (kept > 0) {
    quietScheduled = true;
    RESOLVED.then(checkQuiet);
  }
}

/** Told when a batch went to the transport (senders waiting for room may go on). */
export interface BatchOwner {
  /** A batch was handed to the transport. */
  batchFlushed(): void;
}

/**
 * One connection's batch. It allocates nothing until the first send: an
 * idle connection holds no buffer.
 */
export class OutputBatcher {
  readonly #transport: Transport;
  readonly #writer: FrameWriter;
  readonly #owner: BatchOwner;
  readonly #flushAfterRead: boolean;
  readonly #hasDefer: boolean;
  #batch: Uint8Array = EMPTY;
  #length = 0;
  #size = BATCH_INITIAL;
  // The last batch handed to the transport, and one it gave back for reuse.
  #inFlight: Uint8Array | null = null;
  #spare: Uint8Array | null = null;
  #written: ((chunk: Uint8Array) => void) | null = null;
  #scheduled = false;
  // Frames queued since the flush task last looked, and how many turns in a row it saw none.
  #sendsSinceCheck = 0;
  #quietTurns = 0;
  #reading = false;
  #closed = false;

  /**
   * @param transport Where batches go.
   * @param writer Encodes frames (masking for a client).
   * @param owner Told after each flush.
   * @param flushAfterRead Whether a read's sends go out at the end of that read.
   */
  constructor(transport: Transport, writer: FrameWriter, owner: BatchOwner, flushAfterRead: boolean) {
    this.#transport = transport;
    this.#writer = writer;
    this.#owner = owner;
    this.#flushAfterRead = flushAfterRead;
    this.#hasDefer = transport.defer !== undefined;
  }

  /** Bytes in the batch, not yet handed to the transport. */
  get length(): number {
    return this.#length;
  }

  /** A read's frames are being handled: with `flushAfterRead`, sends wait for `readEnded`. */
  readStarted(): void {
    this.#reading = true;
  }

  /** The read is handled: what it sent goes out now (with `flushAfterRead`). */
  readEnded(): void {
    this.#reading = false;
    if (this.#flushAfterRead && this.#length > 0) this.flush();
  }

  /**
   * Encodes a frame into the batch (or writes a large payload directly).
   *
   * @param frame The frame; a large payload must not change until written.
   */
  frame(frame: Frame): void {
    const length = payloadLength(frame);
    const writer = this.#writer;
    if (!writer.masking && length >= DIRECT_WRITE_THRESHOLD) {
      this.#reserve(headerLength(length, false));
      this.#length = writer.encodeHeader(frame, length, this.#batch, this.#length);
      const parts = payloadParts(frame);
      this.#writeDirect(parts === null ? frame.data : null, parts);
      return;
    }
    this.#reserve(headerLength(length, writer.masking) + length);
    this.#length = writer.encodeInto(frame, this.#batch, this.#length);
    this.#queued();
  }

  /**
   * Encodes an unfragmented data message from its bytes, without a `Frame`
   * (the handler path's `send`).
   *
   * @param opcode 1 (text) or 2 (binary).
   * @param data The payload; a large one must not change until written.
   */
  message(opcode: number, data: Uint8Array): void {
    const length = data.length;
    const writer = this.#writer;
    if (!writer.masking && length >= DIRECT_WRITE_THRESHOLD) {
      this.#reserve(headerLength(length, false));
      this.#length = writer.encodeMessageHeader(opcode, length, this.#batch, this.#length);
      this.#writeDirect(data, null);
      return;
    }
    this.#reserve(headerLength(length, writer.masking) + length);
    this.#length = writer.encodeMessageInto(opcode, data, this.#batch, this.#length);
    this.#queued();
  }

  /**
   * Queues bytes that are already a frame (a published message framed once
   * for all its subscribers): copied into the batch, or written as they are
   * when large (the caller never changes them).
   *
   * @param frame Header and payload.
   */
  encoded(frame: Uint8Array): void {
    if (!this.#writer.masking && frame.length >= DIRECT_WRITE_THRESHOLD) {
      this.#writeDirect(frame, null);
      return;
    }
    this.#reserve(frame.length);
    this.#batch.set(frame, this.#length);
    this.#length += frame.length;
    this.#queued();
  }

  /**
   * Hands the batch to the transport as a view, not a copy: the transport
   * says when it is done with it, and the buffer is then reused for a later
   * batch (at most two are in use, one filling and one being written).
   */
  flush(): void {
    const n = this.#length;
    if (n === 0 || this.#closed) return;
    this.#length = 0;
    const batch = this.#batch;
    this.#batch = EMPTY;
    this.#inFlight = batch;
    this.#transport.write(batch.subarray(0, n), this.#written ??= (chunk) => this.#onWritten(chunk));
    this.#owner.batchFlushed();
  }

  /** The connection is finished: drops the batch; nothing is written any more. */
  close(): void {
    this.#closed = true;
    this.#length = 0;
    this.#batch = EMPTY;
    this.#spare = this.#inFlight = null;
  }

  /** The batch's header (flushed now) and a payload written as it is, in one system call where possible. */
  #writeDirect(data: Uint8Array | null, parts: readonly Uint8Array[] | null): void {
    const transport = this.#transport;
    transport.cork?.();
    this.flush();
    if (parts === null) transport.write(data!);
    else for (const part of parts) transport.write(part);
    transport.uncork?.();
  }

  /** A frame went into the batch: makes sure a flush follows. */
  #queued(): void {
    this.#sendsSinceCheck++;
    // Inside a read on the handler path the end of the read flushes.
    if (this.#reading && this.#flushAfterRead) return;
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#hasDefer) {
      deferred.push(this);
      if (!deferredScheduled) {
        deferredScheduled = true;
        this.#transport.defer!(flushDeferred);
      }
    } else {
      this.#quietTurns = 0;
      quiet.push(this);
      if (!quietScheduled) {
        quietScheduled = true;
        RESOLVED.then(checkQuiet);
      }
    }
  }

  /**
   * The deferred flush (the I/O event's work is over).
   *
   * @internal
   */
  deferredFlush(): void {
    this.#scheduled = false;
    this.flush();
  }

  /**
   * One microtask turn passed without `defer`: true once the batch went out
   * (after quiet turns), false while sends keep coming or it waits on.
   *
   * @internal
   */
  quietTurn(): boolean {
    if (this.#sendsSinceCheck !== 0) {
      this.#sendsSinceCheck = 0;
      this.#quietTurns = 0;
      return false;
    }
    if (++this.#quietTurns < FLUSH_PATIENCE) return false;
    this.#scheduled = false;
    this.flush();
    return true;
  }

  #onWritten(chunk: Uint8Array): void {
    const written = this.#inFlight;
    if (written === null || chunk.buffer !== written.buffer) return;
    this.#inFlight = null;
    if (this.#spare === null) this.#spare = written;
  }

  /** Makes room for `bytes` more in the batch: flushes a batch they do not fit in. */
  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#batch.length) return;
    if (this.#length > 0) {
      this.flush();
      // Outgrown: larger batches from now on.
      if (this.#size < BATCH_CAPACITY) this.#size = Math.min(BATCH_CAPACITY, this.#size * 2);
    }
    const spare = this.#spare;
    this.#spare = null;
    if (spare !== null && spare.length === this.#size && bytes <= spare.length) {
      this.#batch = spare;
      return;
    }
    // Only a masked frame (client role) is larger than BATCH_CAPACITY.
    this.#batch = new Uint8Array(Math.max(bytes, this.#size));
  }
}
