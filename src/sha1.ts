/**
 * SHA-1 (FIPS 180-4 §6.1), synchronous, for `Sec-WebSocket-Accept`: the
 * handshake's headers must exist as soon as a `WebSocketUpgrade` is built,
 * and `crypto.subtle.digest` is asynchronous. SHA-1 is used here only as the
 * RFC 6455 key-derivation function, not for any security property.
 */

const W = new Uint32Array(80);

/**
 * The SHA-1 digest of `data`.
 *
 * @param data The message.
 * @returns The 20-byte digest.
 *
 * @example
 * ```ts
 * import { sha1 } from "@hybi/websocket";
 * const hex = [...sha1(new TextEncoder().encode("abc"))]
 *   .map((b) => b.toString(16).padStart(2, "0")).join("");
 * console.log(hex); // a9993e364706816aba3e25717850c26c9cd0d89d
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  const bitLength = data.length * 8;
  // Message, a 0x80 byte, zero padding, then the 64-bit length: a multiple of 64 bytes.
  const padded = new Uint8Array(((data.length + 8) >>> 6) * 64 + 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);

  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      const x = W[t - 3] ^ W[t - 8] ^ W[t - 14] ^ W[t - 16];
      W[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number, k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  outView.setUint32(0, h0);
  outView.setUint32(4, h1);
  outView.setUint32(8, h2);
  outView.setUint32(12, h3);
  outView.setUint32(16, h4);
  return out;
}
