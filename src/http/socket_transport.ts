/**
 * What an engine hands the HTTP front for each accepted socket. The
 * engines' transports extend `SocketTransportBase`
 * (`socket_transport_base.ts`), which holds all but their system calls.
 *
 * @module
 */
import type { NetAddr, Transport } from "../transport.ts";

export type { NetAddr };
import type { SocketCloseListener } from "./socket_signals.ts";

/** A socket's {@linkcode Transport}, plus a way to know when the socket is gone. */
export interface SocketTransport extends Transport {
  /**
   * Resolves once the socket is closed both ways (after `end()` and the
   * peer's end of input) or dropped; never rejects. Made when first asked
   * for: an idle connection holds no promise.
   */
  readonly closed: Promise<void>;
  /** Told by a direct call when the socket is closed (write-only). */
  closeListener: SocketCloseListener | null;
}
