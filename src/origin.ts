/**
 * The `Origin` policy of a WebSocket endpoint: a defence against cross-site
 * WebSocket hijacking. Browsers send `Origin` with every WebSocket
 * handshake and let any page open a WebSocket to any server, with the
 * user's cookies; a server that authenticates by cookie must check where
 * the page came from.
 *
 * @module
 */

/**
 * Which `Origin`s may open a WebSocket. `"any"` allows all; `"same-origin"`
 * allows a request without `Origin` (not from a browser) or whose `Origin`
 * is the server's own (scheme and host of the request URL); a list allows
 * those origins exactly, compared without regard to ASCII case (plus
 * requests without `Origin`); a function decides.
 */
export type OriginPolicy =
  | "any"
  | "same-origin"
  | readonly string[]
  | ((origin: string | null, request: Request) => boolean);

/**
 * Whether `request`'s `Origin` passes `policy`.
 *
 * @param request The opening handshake request.
 * @param policy The origin policy.
 * @returns `true` when the request may be upgraded.
 *
 * @example
 * ```ts
 * import { originAllowed } from "@hybi/websocket";
 * const request = new Request("http://chat.example/ws", { headers: { origin: "https://evil.example" } });
 * console.log(originAllowed(request, "same-origin"), originAllowed(request, ["https://evil.example"])); // false true
 * ```
 */
export function originAllowed(request: Request, policy: OriginPolicy): boolean {
  if (policy === "any") return true;
  const origin = request.headers.get("origin");
  if (typeof policy === "function") return policy(origin, request);
  if (origin === null) return true;
  const lower = origin.toLowerCase();
  if (policy === "same-origin") return lower === new URL(request.url).origin.toLowerCase();
  for (const allowed of policy) if (allowed.toLowerCase() === lower) return true;
  return false;
}
