/**
 * An HTTP-level failure found by the HTTP/1.1 front: the status to answer
 * with, after which the connection is closed.
 *
 * @module
 */

/** A request the front refuses, with the status and the short reason it answers with. */
export class HttpError extends Error {
  /** The HTTP status to answer with (400, 408, 413, 414, 431, 501, 505 …). */
  readonly status: number;

  /**
   * Builds the error.
   *
   * @param status The HTTP status to answer with.
   * @param message The reason, also sent as the response body.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}
