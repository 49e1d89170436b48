/**
 * Close codes of RFC 6455 §7.4.1 with the meanings Ktor's `CloseReason.Codes`
 * gives them, plus 1014 from the IANA registry.
 *
 * @example Closing with a code
 * ```ts
 * import { CloseCode, CloseReason } from "@hybi/websocket";
 * const reason = new CloseReason(CloseCode.MessageTooBig, "limit is 1 MiB");
 * console.log(reason.code); // 1009
 * ```
 */
export const CloseCode: {
  /** 1000: the purpose of the connection has been fulfilled. */
  readonly Normal: 1000;
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  readonly GoingAway: 1001;
  /** 1002: the peer broke the protocol. */
  readonly ProtocolError: 1002;
  /** 1003: the endpoint cannot accept this type of data. */
  readonly CannotAccept: 1003;
  /** 1004: reserved; never sent. */
  readonly Reserved: 1004;
  /** 1005: no status code was present; never sent on the wire. */
  readonly NoStatus: 1005;
  /** 1006: the connection dropped without a close frame; never sent on the wire. */
  readonly ClosedAbnormally: 1006;
  /** 1007: a message's data was not consistent with its type (invalid UTF-8). */
  readonly NotConsistent: 1007;
  /** 1008: a message violated the endpoint's policy. */
  readonly ViolatedPolicy: 1008;
  /** 1009: a frame or message was too big to process. */
  readonly MessageTooBig: 1009;
  /** 1010: the client expected an extension the server did not negotiate. */
  readonly NoExtension: 1010;
  /** 1011: the server hit an unexpected condition (an internal error). */
  readonly InternalError: 1011;
  /** 1012: the service is restarting. */
  readonly ServiceRestart: 1012;
  /** 1013: a temporary condition; try again later. */
  readonly TryAgainLater: 1013;
  /** 1014: a gateway or proxy got an invalid response upstream. */
  readonly BadGateway: 1014;
} = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  CannotAccept: 1003,
  Reserved: 1004,
  NoStatus: 1005,
  ClosedAbnormally: 1006,
  NotConsistent: 1007,
  ViolatedPolicy: 1008,
  MessageTooBig: 1009,
  NoExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
};

/** One of the numeric values of {@linkcode CloseCode}. */
export type CloseCode = typeof CloseCode[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 §7.4):
 * 1000–1003, 1007–1014 and the registered/private ranges 3000–4999.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "@hybi/websocket";
 * console.log(isValidCloseCode(1000), isValidCloseCode(1005)); // true false
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  if (code < 1000 || code > 1014) return false;
  return code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * Why a connection closed: a code and a UTF-8 message of at most 123 bytes
 * (a close frame's payload is limited to 125 bytes).
 *
 * @example
 * ```ts
 * import { CloseCode, CloseReason } from "@hybi/websocket";
 * const bye = new CloseReason(CloseCode.Normal, "bye");
 * console.log(`${bye}`); // CloseReason(1000 Normal, bye)
 * ```
 */
export class CloseReason {
  /** The numeric close code. */
  readonly code: number;
  /** The human-readable reason; may be empty. */
  readonly message: string;

  /**

   * Builds a close reason.

   *
   * @param code The close code; see {@linkcode CloseCode}.
   * @param message The reason text, empty by default.
   */
  constructor(code: number, message: string = "") {
    this.code = code;
    this.message = message;
  }

  /** The {@linkcode CloseCode} name of the code, or `undefined` when it has none. */
  get knownReason(): keyof typeof CloseCode | undefined {
    for (const name in CloseCode) {
      const key = name as keyof typeof CloseCode;
      if (CloseCode[key] === this.code) return key;
    }
    return undefined;
  }

  /** A short description such as `CloseReason(1000 Normal, bye)`. */
  toString(): string {
    return `CloseReason(${this.code} ${this.knownReason ?? "Unknown"}, ${this.message})`;
  }
}
