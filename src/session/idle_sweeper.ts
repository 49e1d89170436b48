/**
 * The idle timeout (`idleTimeout`, `pingWhenIdle`): drops a connection
 * from which no byte has arrived for `idleTimeout`, after pinging it once
 * shortly before, so a peer that is alive but has nothing to say (a browser
 * tab) answers with a pong and stays. As uWebSockets' and Bun's
 * `idleTimeout` / `sendPings`, and like them the connection is dropped
 * without a close frame (1006): a peer that has neither sent nor answered
 * anything for that long is presumed gone, and a close frame would only
 * start a close handshake nobody answers.
 *
 * It costs nothing per frame: a read only zeroes the connection's
 * `idleTicks`. One interval per distinct `idleTimeout` (in practice one per
 * server) sweeps every watched connection `TICKS_PER_TIMEOUT` times per
 * timeout, counting the ticks each has gone without a byte.
 *
 * @module
 */

/** Default of `idleTimeout`: 120 s, as uWebSockets and Bun. */
export const DEFAULT_IDLE_TIMEOUT = 120_000;

/** Sweeps per `idleTimeout`: the timeout's resolution is an eighth of it. */
const TICKS_PER_TIMEOUT = 8;
/**
 * A connection is dropped at the sweep that finds it without a byte for a
 * ninth tick in a row: silent for at least `idleTimeout` (the first of
 * those ticks may come just after its last byte), at most an eighth longer.
 */
const DROP_TICK = TICKS_PER_TIMEOUT + 1;
/** The ping goes out two ticks (a quarter of `idleTimeout`) before the drop: the peer's time to answer. */
const PING_TICK = DROP_TICK - 2;

/** What the sweeper needs of a connection (`Connection` implements it). */
export interface IdleWatched {
  /** Sweeps since a byte last arrived: the connection zeroes it on every read. */
  idleTicks: number;
  /** Whether frames may still be sent (else the close handshake's own timer governs). */
  readonly writable: boolean;
  /** Whether we stopped reading (the peer's silence is then ours). */
  readonly held: boolean;
  /** Pings the peer, when the session above takes pongs it did not ask for. */
  pingIdle(): void;
  /** Drops the connection: nothing arrived for the timeout. */
  dropIdle(): void;
}

/** The connections of one `idleTimeout` and their one interval. */
class IdleSweeper {
  readonly #period: number;
  readonly #watched: Set<IdleWatched> = new Set();
  #interval: ReturnType<typeof setInterval> | undefined;

  constructor(timeout: number) {
    this.#period = Math.max(1, Math.floor(timeout / TICKS_PER_TIMEOUT));
  }

  add(connection: IdleWatched): void {
    this.#watched.add(connection);
    if (this.#interval === undefined) this.#interval = setInterval(sweep, this.#period, this);
  }

  delete(connection: IdleWatched): void {
    if (!this.#watched.delete(connection) || this.#watched.size > 0) return;
    // No timer while nothing is watched: an idle process may exit.
    clearInterval(this.#interval);
    this.#interval = undefined;
  }

  sweep(): void {
    for (const connection of this.#watched) {
      if (!connection.writable) {
        // Closing: the close timeout bounds what is left.
        this.delete(connection);
        continue;
      }
      if (connection.held) {
        // We are not reading the peer: its bytes wait in the kernel, not its fault.
        connection.idleTicks = 0;
        continue;
      }
      const ticks = ++connection.idleTicks;
      if (ticks === PING_TICK) connection.pingIdle();
      else if (ticks >= DROP_TICK) {
        this.delete(connection);
        connection.dropIdle();
      }
    }
  }
}

/** The interval's callback: one shared function, the sweeper as its argument. */
function sweep(sweeper: IdleSweeper): void {
  sweeper.sweep();
}

const sweepers: Map<number, IdleSweeper> = new Map();

/**
 * Watches `connection` until {@linkcode unwatchIdle}: dropped after
 * `timeout` milliseconds without a byte from the peer.
 *
 * @param connection The connection.
 * @param timeout Milliseconds; positive.
 */
export function watchIdle(connection: IdleWatched, timeout: number): void {
  let sweeper = sweepers.get(timeout);
  if (sweeper === undefined) {
    sweeper = new IdleSweeper(timeout);
    sweepers.set(timeout, sweeper);
  }
  sweeper.add(connection);
}

/**
 * Stops watching `connection` (it finished).
 *
 * @param connection The connection.
 * @param timeout The timeout it was watched with.
 */
export function unwatchIdle(connection: IdleWatched, timeout: number): void {
  sweepers.get(timeout)?.delete(connection);
}
