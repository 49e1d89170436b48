/**
 * Pings on an interval and closes the connection with 1011 when the peer
 * shows no sign of life for `timeout` after a ping (Ktor's
 * `pingIntervalMillis` / `timeoutMillis`). Any frame from the peer counts as
 * a sign of life, not only the pong.
 *
 * @module
 */
import { CloseCode, CloseReason } from "../close_reason.ts";
import { PingFrame } from "../frame/frame.ts";
import type { Connection } from "./connection.ts";

/** Default of the ping timeout: 15 s, as Ktor. */
export const DEFAULT_PING_TIMEOUT = 15_000;

/**
 * One connection's pinger. Made only when a ping interval is set, so a
 * connection without one holds no timer.
 */
export class Heartbeat {
  readonly #connection: Connection;
  readonly #timeout: number;
  #interval: ReturnType<typeof setInterval> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sawFrame = false;
  #count = 0;

  /**
   * Starts pinging.
   *
   * @param connection Where pings go and what closes on a timeout.
   * @param interval Milliseconds between pings.
   * @param timeout Milliseconds a ping may go without a sign of life.
   */
  constructor(connection: Connection, interval: number, timeout: number) {
    this.#connection = connection;
    this.#timeout = timeout;
    this.#interval = setInterval(() => this.#ping(), interval);
  }

  /** The peer sent a frame. */
  alive(): void {
    this.#sawFrame = true;
  }

  /** Stops pinging and waiting (the connection is closing or closed). */
  stop(): void {
    if (this.#interval !== undefined) clearInterval(this.#interval);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#interval = this.#timer = undefined;
  }

  #ping(): void {
    const connection = this.#connection;
    if (!connection.writable) return;
    const n = ++this.#count;
    connection.sendNow(new PingFrame(new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255])));
    if (this.#timer !== undefined) return;
    this.#sawFrame = false;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // While we hold reading (the application is behind), the pong waits
      // behind data we chose not to read: that is not the peer's fault.
      if (this.#sawFrame || connection.held) return;
      connection.close(new CloseReason(CloseCode.InternalError, "ping timeout"));
    }, this.#timeout);
  }
}
