/**
 * permessage-deflate from the client's side (RFC 7692 §7): the offer a
 * client sends, and the check of the server's response to it. The codec is
 * the server's {@linkcode PerMessageDeflateExtension}, built with the roles
 * swapped.
 *
 * @module
 */
import type { ExtensionParam } from "./extension_header.ts";
import { formatExtension } from "./extension_header.ts";
import { asciiEqualsIgnoreCase } from "./negotiation.ts";
import { type DeflateParameters, parseWindowBits, PerMessageDeflateExtension } from "./permessage_deflate.ts";
import { loadZlib } from "./deflate_codec.ts";

/**
 * What a client offers and how it compresses, the client's view of
 * the server's `PerMessageDeflateOptions`.
 */
export interface PerMessageDeflateOfferOptions {
  /** zlib compression level, 0 (store) to 9 (smallest). Default 6. */
  compressionLevel?: number;
  /** Outgoing messages of at most this many bytes are sent uncompressed. Default 1024. */
  compressIfBiggerThan?: number;
  /** zlib memory level, 1–9, for our compressor. Default 8. */
  memLevel?: number;
  /**
   * Largest window, in bits (8–15), our compressor uses. The offer always
   * carries `client_max_window_bits` (so the server may choose a smaller
   * one), with this value when it is below 15. Default 15.
   */
  clientMaxWindowBits?: number;
  /** Ask the server to compress with at most this window, in bits (8–15). Default: not asked. */
  serverMaxWindowBits?: number;
  /** Ask the server to start every message with an empty window (our decompressor is freed between messages). */
  serverNoContextTakeover?: boolean;
  /** Tell the server we start every message with an empty window (our compressor is freed between messages). */
  clientNoContextTakeover?: boolean;
}

/** An offer as it was sent, to check the answer against. */
export interface DeflateOffer {
  /** The `Sec-WebSocket-Extensions` element sent. */
  readonly header: string;
  /** The options with their defaults filled in. */
  readonly options: Readonly<Required<Omit<PerMessageDeflateOfferOptions, "serverMaxWindowBits">>> & {
    readonly serverMaxWindowBits: number | null;
  };
}

const NAME = "permessage-deflate";

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Builds a client's permessage-deflate offer.
 *
 * @param options What to offer and how to compress.
 * @returns The offer, with its header element.
 * @throws {RangeError} When an option is out of range.
 */
export function deflateOffer(options: PerMessageDeflateOfferOptions = {}): DeflateOffer {
  const o = Object.freeze({
    compressionLevel: checkInteger("compressionLevel", options.compressionLevel ?? 6, 0, 9),
    compressIfBiggerThan: checkInteger(
      "compressIfBiggerThan",
      options.compressIfBiggerThan ?? 1024,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    memLevel: checkInteger("memLevel", options.memLevel ?? 8, 1, 9),
    clientMaxWindowBits: checkInteger("clientMaxWindowBits", options.clientMaxWindowBits ?? 15, 8, 15),
    serverMaxWindowBits: options.serverMaxWindowBits === undefined
      ? null
      : checkInteger("serverMaxWindowBits", options.serverMaxWindowBits, 8, 15),
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
  });
  const params: ExtensionParam[] = [];
  if (o.serverNoContextTakeover) params.push({ name: "server_no_context_takeover", value: null });
  if (o.clientNoContextTakeover) params.push({ name: "client_no_context_takeover", value: null });
  if (o.serverMaxWindowBits !== null) {
    params.push({ name: "server_max_window_bits", value: String(o.serverMaxWindowBits) });
  }
  params.push({
    name: "client_max_window_bits",
    value: o.clientMaxWindowBits < 15 ? String(o.clientMaxWindowBits) : null,
  });
  return { header: formatExtension({ name: NAME, params }), options: o };
}

/**
 * Checks the server's acceptance of our offer (RFC 7692 §7.1) and builds
 * the client's extension, or says what is wrong:
 * - `server_no_context_takeover` and `client_no_context_takeover` may come
 *   even when not offered (without a value);
 * - `server_max_window_bits` (8–15) may come even when not offered, and not
 *   above what was offered;
 * - `client_max_window_bits` only when offered, with a value (8–15), and not
 *   above the value offered;
 * - `server_no_context_takeover` and `server_max_window_bits`, when
 *   offered, must be in the answer (it is how the server accepts them);
 * - nothing else, and nothing twice.
 *
 * @param offer The offer that was sent.
 * @param params The parameters of the server's `permessage-deflate` element.
 * @param header The element as the server wrote it.
 * @returns The extension, or the reason to fail the handshake.
 */
export function acceptDeflateResponse(
  offer: DeflateOffer,
  params: readonly ExtensionParam[],
  header: string,
): PerMessageDeflateExtension | string {
  let serverNoContextTakeover = false;
  let clientNoContextTakeover = false;
  let serverBits: number | null = null;
  let clientBits: number | null = null;
  for (const p of params) {
    const name = p.name;
    if (asciiEqualsIgnoreCase(name, "server_no_context_takeover")) {
      if (serverNoContextTakeover || p.value !== null) return "server_no_context_takeover given twice or with a value";
      serverNoContextTakeover = true;
    } else if (asciiEqualsIgnoreCase(name, "client_no_context_takeover")) {
      if (clientNoContextTakeover || p.value !== null) return "client_no_context_takeover given twice or with a value";
      clientNoContextTakeover = true;
    } else if (asciiEqualsIgnoreCase(name, "server_max_window_bits")) {
      if (serverBits !== null) return "server_max_window_bits given twice";
      serverBits = p.value === null ? null : parseWindowBits(p.value);
      if (serverBits === null) return "server_max_window_bits needs a value from 8 to 15";
      const offered = offer.options.serverMaxWindowBits;
      if (offered !== null && serverBits > offered) {
        return `server_max_window_bits=${serverBits} is above the ${offered} offered`;
      }
    } else if (asciiEqualsIgnoreCase(name, "client_max_window_bits")) {
      if (clientBits !== null) return "client_max_window_bits given twice";
      clientBits = p.value === null ? null : parseWindowBits(p.value);
      if (clientBits === null) return "client_max_window_bits needs a value from 8 to 15";
      if (clientBits > offer.options.clientMaxWindowBits) {
        return `client_max_window_bits=${clientBits} is above the ${offer.options.clientMaxWindowBits} offered`;
      }
    } else {
      return `unknown parameter ${name}`;
    }
  }
  const o = offer.options;
  // An offered parameter of the server's side is accepted by stating it (RFC 7692 §7.1.1.1, §7.1.2.1).
  if (o.serverNoContextTakeover && !serverNoContextTakeover) {
    return "server_no_context_takeover was offered but not accepted";
  }
  if (o.serverMaxWindowBits !== null && serverBits === null) {
    return "server_max_window_bits was offered but not accepted";
  }
  const parameters: DeflateParameters = Object.freeze({
    serverNoContextTakeover,
    clientNoContextTakeover: clientNoContextTakeover || o.clientNoContextTakeover,
    serverMaxWindowBits: serverBits ?? 15,
    clientMaxWindowBits: clientBits ?? o.clientMaxWindowBits,
  });
  void loadZlib().catch(() => {});
  return new PerMessageDeflateExtension(
    parameters,
    {
      compressionLevel: o.compressionLevel,
      compressIfBiggerThan: o.compressIfBiggerThan,
      memLevel: o.memLevel,
      serverNoContextTakeover: parameters.serverNoContextTakeover,
      clientNoContextTakeover: parameters.clientNoContextTakeover,
      serverMaxWindowBits: parameters.serverMaxWindowBits,
      clientMaxWindowBits: parameters.clientMaxWindowBits,
    },
    header,
    "client",
  );
}
