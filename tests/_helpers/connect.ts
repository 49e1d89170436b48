/**
 * `connect` of the runtime the tests run in (so that running the suite on
 * each runtime covers each engine's dial), and small helpers for the
 * client's tests.
 */
import type { Connect } from "../../src/client/connect.ts";
import type { DefaultWebSocketSession } from "../../mod.ts";
import { runtime } from "./engine.ts";

/** `connect` of the current runtime's engine. */
export async function engineConnect(): Promise<Connect> {
  switch (runtime) {
    case "deno":
      return (await import("../../src/engine/deno.ts")).connect;
    case "bun":
      return (await import("../../src/engine/bun.ts")).connect;
    case "node":
      return (await import("../../src/engine/node.ts")).connect;
  }
}

/** The next whole message of a default session (a string for text), or `null` when it ended. */
export async function nextMessage(session: DefaultWebSocketSession): Promise<string | Uint8Array | null> {
  const iterator = session.messages();
  const { value, done } = await iterator.next();
  return done === true ? null : value;
}

/** What a promise rejected with (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}
