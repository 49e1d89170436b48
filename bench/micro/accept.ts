/**
 * `Sec-WebSocket-Accept` (`computeAccept`: the library's synchronous SHA-1
 * and base64). Reference: `crypto.subtle.digest("SHA-1")` of the same input
 * plus base64 with `btoa`, which is asynchronous and native.
 *
 * The key changes from call to call (a ring of 64 random keys), so nothing
 * can be cached or folded.
 */
import { computeAccept, WEBSOCKET_GUID } from "../../mod.ts";
import { check, type MicroCase, seededBytes } from "./case.ts";

const KEYS: string[] = [];
for (let i = 0; i < 64; i++) KEYS.push(btoa(String.fromCharCode(...seededBytes(16, i + 1))));
const encoder = new TextEncoder();
let next = 0;

async function subtleAccept(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + WEBSOCKET_GUID)));
  let binary = "";
  for (let i = 0; i < digest.length; i++) binary += String.fromCharCode(digest[i]);
  return btoa(binary);
}

export const cases: MicroCase[] = [{
  name: "computeAccept (sync SHA-1 + base64)",
  bytes: 0,
  run: () => computeAccept(KEYS[next++ & 63]),
  reference: {
    name: "crypto.subtle SHA-1 + btoa",
    bytes: 0,
    run: () => subtleAccept(KEYS[next++ & 63]),
  },
  verify: async () => {
    check(computeAccept("dGhlIHNhbXBsZSBub25jZQ==") === "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 §1.3 example");
    for (const key of KEYS) check(computeAccept(key) === await subtleAccept(key), `differs from subtle for ${key}`);
  },
}];
