/**
 * The raw conformance client's permessage-deflate (RFC 7692), written for
 * the tests on node:zlib streams and independent of `src/extensions/`: it
 * reads the server's answer, compresses the client's messages as
 * negotiated (window, context takeover) and decompresses the server's with
 * exactly the window and context the server agreed to, so a server that
 * compresses with a larger window than it promised, or keeps context it
 * promised to drop, fails to decode here.
 */
import * as zlib from "node:zlib";
import { concatBytes } from "./bytes.ts";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** What the server's `Sec-WebSocket-Extensions` answer agreed to. */
export interface DeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The server's compression window (8–15; 15 when not stated). */
  serverMaxWindowBits: number;
  /** Our compression window (8–15; 15 when not stated). */
  clientMaxWindowBits: number;
  /** The parameters as answered, `name` or `name=value`, in order. */
  params: string[];
}

/**
 * Parses the server's answer: exactly one `permessage-deflate` element, with
 * known parameters each at most once (RFC 7692 §7.1). Returns null when
 * the server answered nothing; throws when the answer is not one a client
 * may accept.
 */
export function parseDeflateAnswer(value: string | null): DeflateAgreement | null {
  if (value === null || value.trim() === "") return null;
  if (value.includes(",")) throw new Error(`more than one extension in the answer: ${value}`);
  const [name, ...rest] = value.split(";").map((s) => s.trim());
  if (name.toLowerCase() !== "permessage-deflate") throw new Error(`unexpected extension ${name}`);
  const agreement: DeflateAgreement = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    params: [],
  };
  const seen = new Set<string>();
  for (const param of rest) {
    const eq = param.indexOf("=");
    const key = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    let raw = eq < 0 ? null : param.slice(eq + 1).trim();
    if (raw !== null && raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
    if (seen.has(key)) throw new Error(`duplicate ${key} in the answer: ${value}`);
    seen.add(key);
    agreement.params.push(raw === null ? key : `${key}=${raw}`);
    const bits = raw === null ? NaN : Number(raw);
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (raw !== null) throw new Error(`${key} with a value: ${value}`);
        if (key === "server_no_context_takeover") agreement.serverNoContextTakeover = true;
        else agreement.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits":
        if (String(bits) !== raw || bits < 8 || bits > 15) throw new Error(`bad ${key}: ${value}`);
        if (key === "server_max_window_bits") agreement.serverMaxWindowBits = bits;
        else agreement.clientMaxWindowBits = bits;
        break;
      default:
        throw new Error(`unknown parameter ${key} in the answer: ${value}`);
    }
  }
  return agreement;
}

function collect(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    const onData = (c: Uint8Array) => parts.push(new Uint8Array(c));
    const onError = (e: Error) => {
      stream.off("data", onData);
      reject(e);
    };
    stream.on("data", onData);
    stream.once("error", onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off("data", onData);
      stream.off("error", onError);
      resolve(concatBytes(parts));
    });
  });
}

/** Compresses our messages and decompresses the server's, as agreed. */
export class ClientDeflate {
  readonly agreement: DeflateAgreement;
  #deflater: zlib.DeflateRaw | null = null;
  #inflater: zlib.InflateRaw | null = null;

  constructor(agreement: DeflateAgreement) {
    this.agreement = agreement;
  }

  /** A whole message's payload, compressed and sync-flushed, without the tail (RFC 7692 §7.2.1). */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    // zlib has no 8-bit raw deflate; 9 bits never reach further back than 250 bytes.
    this.#deflater ??= zlib.createDeflateRaw({ windowBits: Math.max(9, this.agreement.clientMaxWindowBits) });
    const out = await collect(this.#deflater, data);
    if (this.agreement.clientNoContextTakeover) {
      this.#deflater.close();
      this.#deflater = null;
    }
    const end = out.length - 4;
    for (let i = 0; i < 4; i++) {
      if (out[end + i] !== TAIL[i]) throw new Error("a sync flush that does not end in 00 00 ff ff");
    }
    return out.subarray(0, end);
  }

  /** A whole compressed message from the server (its frames' payloads joined), decompressed (RFC 7692 §7.2.2). */
  async decompress(payload: Uint8Array): Promise<Uint8Array> {
    this.#inflater ??= zlib.createInflateRaw({ windowBits: this.agreement.serverMaxWindowBits });
    const input = new Uint8Array(payload.length + 4);
    input.set(payload);
    input.set(TAIL, payload.length);
    try {
      return await collect(this.#inflater, input);
    } catch (e) {
      this.#inflater = null;
      throw new Error(`the server's compressed message does not decode as agreed: ${(e as Error).message}`);
    } finally {
      if (this.agreement.serverNoContextTakeover && this.#inflater !== null) {
        this.#inflater.close();
        this.#inflater = null;
      }
    }
  }

  close(): void {
    this.#deflater?.close();
    this.#inflater?.close();
    this.#deflater = this.#inflater = null;
  }
}
