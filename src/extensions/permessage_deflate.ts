import { Frame } from "../frame/frame.ts";
import { loadZlib, MessageDeflater, MessageInflater } from "./deflate_codec.ts";
import type { WebSocketExtension, WebSocketExtensionFactory } from "./extension.ts";
import { type ExtensionElement, type ExtensionParam, formatExtension } from "./extension_header.ts";
import { asciiEqualsIgnoreCase } from "./negotiation.ts";
import { SerialQueue } from "./serial_queue.ts";
import { type SharedDeflater, sharedDeflater } from "./shared_deflater.ts";
import type { PublishedMessage } from "../topics.ts";

/**
 * Options of {@linkcode PerMessageDeflate}, after Ktor's
 * `WebSocketDeflateExtension.Config`, plus the window sizes.
 *
 * Memory per connection is mostly zlib's: a compressor holds
 * `2^(serverMaxWindowBits + 2) + 2^(memLevel + 9)` bytes (256 KiB with the
 * defaults), a decompressor `2^clientMaxWindowBits` bytes (32 KiB). They are
 * allocated on the first compressed message in their direction, and freed
 * after every message in a direction without context takeover.
 */
export interface PerMessageDeflateOptions {
  /** zlib compression level, 0 (store) to 9 (smallest). Default 6. */
  compressionLevel?: number;
  /**
   * Outgoing messages of at most this many bytes are sent uncompressed
   * (RSV1 clear). A fragmented message is decided by its first fragment and
   * is compressed whenever it has more than one. Default 1024.
   */
  compressIfBiggerThan?: number;
  /**
   * Start every outgoing message with an empty window, and free the
   * compressor between messages (saves memory, costs compression).
   * Always on when the client asks for it. Default false.
   *
   * It also lets a topic's message be compressed once for all such
   * subscribers (with the same window, level and memory level) instead of
   * once per subscriber: with context takeover each connection's bytes
   * depend on what it was sent before, so each compresses its own.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Ask the client to start every message with an empty window, so the
   * decompressor can be freed between messages. Also on when the client
   * offers it. Default false.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Largest window, in bits (8–15), for our compressor; a client's
   * `server_max_window_bits` can lower it further. Default 15.
   */
  serverMaxWindowBits?: number;
  /**
   * Largest window, in bits (8–15), the client may compress with. Below 15,
   * offers without `client_max_window_bits` (whose client could not be told)
   * are declined. Default 15.
   */
  clientMaxWindowBits?: number;
  /** zlib memory level, 1–9, for our compressor. Default 8. */
  memLevel?: number;
}

/** An accepted offer: the configuration and the response element that states it. */
export interface DeflateAgreement {
  /** The negotiated configuration. */
  readonly parameters: DeflateParameters;
  /** The response's `Sec-WebSocket-Extensions` element. */
  readonly header: string;
}

/** What a permessage-deflate negotiation settled (RFC 7692 §7.1). */
export interface DeflateParameters {
  /** The server (we) starts every message with an empty window. */
  readonly serverNoContextTakeover: boolean;
  /** The client starts every message with an empty window. */
  readonly clientNoContextTakeover: boolean;
  /** Our compressor's window, in bits. */
  readonly serverMaxWindowBits: number;
  /** The client's compressor's window, in bits (our decompressor's). */
  readonly clientMaxWindowBits: number;
}

const NAME = "permessage-deflate";
const RSV1 = 0x40;

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * A window size as RFC 7692 §7.1.2 writes it: 8 to 15, no leading zero.
 *
 * @param value The parameter's value.
 * @returns The bits, or `null` when the value is not one.
 */
export function parseWindowBits(value: string): number | null {
  if (value.length === 1) {
    const c = value.charCodeAt(0);
    return c === 0x38 || c === 0x39 ? c - 0x30 : null;
  }
  if (value.length === 2 && value.charCodeAt(0) === 0x31) {
    const d = value.charCodeAt(1) - 0x30;
    return d >= 0 && d <= 5 ? 10 + d : null;
  }
  return null;
}

/**
 * The permessage-deflate extension (RFC 7692), configured once per server
 * and negotiated per connection; pass it in `WebSocketUpgradeOptions.extensions`.
 * It answers the first acceptable offer and declines offers with unknown,
 * duplicate or invalid parameters (RFC 7692 §5.1); when none is acceptable
 * the connection goes on uncompressed.
 *
 * The codec runs on `node:zlib` (native in Deno, Bun and Node), imported
 * only once a connection negotiates the extension.
 *
 * @example
 * ```ts
 * import { PerMessageDeflate } from "@hybi/websocket";
 * const deflate = new PerMessageDeflate({ compressIfBiggerThan: 256, clientNoContextTakeover: true });
 * const ext = deflate.negotiate([{ name: "permessage-deflate", params: [{ name: "client_max_window_bits", value: null }] }]);
 * console.log(ext?.header); // permessage-deflate; client_no_context_takeover
 * ext?.dispose();
 * ```
 */
export class PerMessageDeflate implements WebSocketExtensionFactory {
  /** `permessage-deflate`. */
  readonly name: string = NAME;
  /** RSV1, the "compressed" bit. */
  readonly rsv: number = RSV1;
  /** The options with their defaults filled in. */
  readonly options: Readonly<Required<PerMessageDeflateOptions>>;

  /**
   * Checks and keeps the options.
   *
   * @param options Compression level, threshold, context takeover, windows, memory level.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: PerMessageDeflateOptions = {}) {
    this.options = Object.freeze({
      compressionLevel: checkInteger("compressionLevel", options.compressionLevel ?? 6, 0, 9),
      compressIfBiggerThan: checkInteger(
        "compressIfBiggerThan",
        options.compressIfBiggerThan ?? 1024,
        0,
        Number.MAX_SAFE_INTEGER,
      ),
      serverNoContextTakeover: options.serverNoContextTakeover ?? false,
      clientNoContextTakeover: options.clientNoContextTakeover ?? false,
      serverMaxWindowBits: checkInteger("serverMaxWindowBits", options.serverMaxWindowBits ?? 15, 8, 15),
      clientMaxWindowBits: checkInteger("clientMaxWindowBits", options.clientMaxWindowBits ?? 15, 8, 15),
      memLevel: checkInteger("memLevel", options.memLevel ?? 8, 1, 9),
    });
  }

  /**
   * Accepts the first acceptable offer (client's order) and returns the
   * extension for the connection, or `null` when it declines them all.
   *
   * @param offers The client's offers of permessage-deflate.
   */
  negotiate(offers: readonly ExtensionElement[]): PerMessageDeflateExtension | null {
    for (const offer of offers) {
      const agreement = this.accept(offer.params);
      if (agreement === null) continue;
      // The extension is in use now: have node:zlib ready for the first message.
      void loadZlib().catch(() => {});
      return new PerMessageDeflateExtension(agreement.parameters, this.options, agreement.header);
    }
    return null;
  }

  /**
   * The configuration agreed for one offer and the response element that
   * says so, or `null` to decline the offer.
   *
   * @param params The offer's parameters.
   */
  accept(params: readonly ExtensionParam[]): DeflateAgreement | null {
    let serverNoContextTakeover = false;
    let clientNoContextTakeover = false;
    let serverBits: number | null = null;
    // null: not offered; 0: offered without a value; 8–15: offered with one.
    let clientBits: number | null = null;
    for (const p of params) {
      const name = p.name;
      if (asciiEqualsIgnoreCase(name, "server_no_context_takeover")) {
        if (serverNoContextTakeover || p.value !== null) return null;
        serverNoContextTakeover = true;
      } else if (asciiEqualsIgnoreCase(name, "client_no_context_takeover")) {
        if (clientNoContextTakeover || p.value !== null) return null;
        clientNoContextTakeover = true;
      } else if (asciiEqualsIgnoreCase(name, "server_max_window_bits")) {
        if (serverBits !== null || p.value === null) return null;
        serverBits = parseWindowBits(p.value);
        if (serverBits === null) return null;
      } else if (asciiEqualsIgnoreCase(name, "client_max_window_bits")) {
        if (clientBits !== null) return null;
        if (p.value === null) {
          clientBits = 0;
        } else {
          clientBits = parseWindowBits(p.value);
          if (clientBits === null) return null;
        }
      } else {
        return null;
      }
    }
    const o = this.options;
    let clientMaxWindowBits = o.clientMaxWindowBits;
    if (clientBits === null) {
      // The client cannot be told to use a smaller window than 15.
      if (clientMaxWindowBits < 15) return null;
    } else if (clientBits > 0) {
      clientMaxWindowBits = Math.min(clientMaxWindowBits, clientBits);
    }
    const parameters: DeflateParameters = Object.freeze({
      serverNoContextTakeover: serverNoContextTakeover || o.serverNoContextTakeover,
      clientNoContextTakeover: clientNoContextTakeover || o.clientNoContextTakeover,
      serverMaxWindowBits: Math.min(o.serverMaxWindowBits, serverBits ?? 15),
      clientMaxWindowBits,
    });
    const tellClientBits = clientBits !== null && (clientBits > 0 || clientMaxWindowBits < 15);
    return { parameters, header: responseHeader(parameters, serverBits !== null, tellClientBits) };
  }
}

/**
 * The response element for negotiated parameters. `server_max_window_bits`
 * is sent only when offered (a smaller window than the client allows is
 * ours to use silently); `client_max_window_bits` only when offered and
 * below 15 or given a value, since the client may not be told otherwise.
 */
function responseHeader(p: DeflateParameters, offeredServerBits: boolean, offeredClientBits: boolean): string {
  const params: ExtensionParam[] = [];
  if (p.serverNoContextTakeover) params.push({ name: "server_no_context_takeover", value: null });
  if (p.clientNoContextTakeover) params.push({ name: "client_no_context_takeover", value: null });
  if (offeredServerBits) params.push({ name: "server_max_window_bits", value: String(p.serverMaxWindowBits) });
  if (offeredClientBits) params.push({ name: "client_max_window_bits", value: String(p.clientMaxWindowBits) });
  return formatExtension({ name: NAME, params });
}

/**
 * permessage-deflate negotiated for one connection: the response element,
 * and the codec the default session calls for every frame of a compressed
 * message. Compression state is created on first use and freed by
 * `dispose()` (and between messages without context takeover).
 *
 * @example Compressing and decompressing a message
 * ```ts
 * import { Frame, PerMessageDeflate } from "@hybi/websocket";
 * const deflate = new PerMessageDeflate({ compressIfBiggerThan: 0 });
 * const ext = deflate.negotiate([{ name: "permessage-deflate", params: [] }])!;
 * const sent = await ext.encodeFrame(new Frame.Text("Hello"));
 * console.log(sent.rsv1, sent.data); // true Uint8Array(7) [ 242, 72, 205, 201, 201, 7, 0 ]
 * let text = "";
 * await ext.decodeFrame(sent.data, true, 1024, (chunk) => text += new TextDecoder().decode(chunk));
 * console.log(text); // Hello
 * ext.dispose();
 * ```
 */
export class PerMessageDeflateExtension implements WebSocketExtension {
  /** `permessage-deflate`. */
  readonly name: string = NAME;
  /** RSV1. */
  readonly rsv: number = RSV1;
  /** The response's `Sec-WebSocket-Extensions` element. */
  readonly header: string;
  /** What was negotiated. */
  readonly parameters: DeflateParameters;
  readonly #threshold: number;
  readonly #inflater: MessageInflater;
  readonly #deflater: MessageDeflater;
  readonly #incoming = new SerialQueue();
  readonly #outgoing = new SerialQueue();
  /** The compressor this connection shares with others for published messages, when it can share. */
  readonly #shared: SharedDeflater | null;
  /** Whether the outgoing message in progress (after a non-final frame) is compressed. */
  #compressingMessage = false;
  #inMessage = false;

  /**
   * Builds the per-connection extension; {@linkcode PerMessageDeflate.negotiate} calls this.
   *
   * @param parameters The negotiated configuration.
   * @param options The factory's options (level, threshold, memory level).
   * @param header The response element.
   * @param role Whose side of the connection this is: `"server"` (the
   *   default) compresses with the server's window and takeover and
   *   decompresses with the client's; `"client"` the other way round.
   */
  constructor(
    parameters: DeflateParameters,
    options: Readonly<Required<PerMessageDeflateOptions>>,
    header: string,
    role: "server" | "client" = "server",
  ) {
    this.parameters = parameters;
    this.header = header;
    this.#threshold = options.compressIfBiggerThan;
    const client = role === "client";
    this.#inflater = new MessageInflater({
      windowBits: client ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits,
      noContextTakeover: client ? parameters.serverNoContextTakeover : parameters.clientNoContextTakeover,
    });
    this.#deflater = new MessageDeflater({
      windowBits: client ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits,
      noContextTakeover: client ? parameters.clientNoContextTakeover : parameters.serverNoContextTakeover,
      level: options.compressionLevel,
      memLevel: options.memLevel,
    });
    // The sharing key, settled once: the same frame suits every connection that compresses each message
    // from an empty window with the same window, level and memory level.
    this.#shared = parameters.serverNoContextTakeover
      ? sharedDeflater(parameters.serverMaxWindowBits, options.compressionLevel, options.memLevel)
      : null;
  }

  /**
   * Whether a topic's message can be compressed once for this connection and
   * every other one with the same parameters (no context takeover on the
   * server side); otherwise this connection compresses its own.
   */
  get sharesCompression(): boolean {
    return this.#shared !== null;
  }

  /**
   * Whether an outgoing message of `length` bytes is compressed (above `compressIfBiggerThan`).
   *
   * @param length The message's payload length.
   */
  compresses(length: number): boolean {
    return length > this.#threshold;
  }

  /**
   * A topic's compressed message as every connection that
   * {@linkcode sharesCompression} with this one sends it: header and
   * payload, compressed once for all of them (at once when small, later
   * when large). Pass it through {@linkcode inOrder} unless nothing of this
   * connection is being encoded.
   *
   * @param message The published message, above the threshold.
   * @returns The frame, never to be changed, or its promise.
   */
  sharedFrame(message: PublishedMessage): Uint8Array | Promise<Uint8Array> {
    const shared = this.#shared;
    if (shared === null) throw new TypeError("this connection compresses its own messages");
    return message.shared(shared, () => shared.frame(message.opcode, message.payload));
  }

  /**
   * A finished frame (a published message's) in this connection's order:
   * settles after every frame passed to {@linkcode encodeFrame} before it,
   * and before any passed after.
   *
   * @param frame Header and payload, or their promise.
   */
  inOrder(frame: Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
    return this.#outgoing.run(() => frame);
  }

  /** Whether zlib state is allocated now, for each direction (for tests and measurements). */
  get allocated(): { readonly inflater: boolean; readonly deflater: boolean } {
    return { inflater: this.#inflater.allocated, deflater: this.#deflater.allocated };
  }

  /**
   * Decompresses one frame of a compressed message; see
   * {@linkcode WebSocketExtension.decodeFrame}.
   *
   * @param data The frame's payload.
   * @param fin Whether it is the message's last frame.
   * @param maxMessageSize Most bytes the decompressed message may have (close 1009 beyond).
   * @param emit Receives the decompressed chunks, in order.
   */
  decodeFrame(
    data: Uint8Array,
    fin: boolean,
    maxMessageSize: number,
    emit: (chunk: Uint8Array) => void,
  ): Promise<void> {
    return this.#incoming.run(() => this.#inflater.inflate(data, fin, maxMessageSize, emit));
  }

  /**
   * Compresses one outgoing data frame when its message is compressed; see
   * {@linkcode WebSocketExtension.encodeFrame}.
   *
   * @param frame A text, binary or continuation frame.
   */
  encodeFrame(frame: Frame): Promise<Frame> {
    const first = !this.#inMessage;
    if (first) {
      this.#compressingMessage = !frame.fin || frame.data.length > this.#threshold;
    }
    this.#inMessage = !frame.fin;
    if (!this.#compressingMessage) return this.#outgoing.run(() => frame);
    return this.#outgoing.run(async () => {
      const data = await this.#deflater.deflate(frame.data, frame.fin);
      // RSV1 marks the message, on its first frame only (RFC 7692 §6.1).
      return Frame.byType(frame.fin, frame.frameType, data, first, frame.rsv2, frame.rsv3);
    });
  }

  /** Frees the zlib state; pending and later calls reject. */
  dispose(): void {
    this.#inflater.dispose();
    this.#deflater.dispose();
  }
}
