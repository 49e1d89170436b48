/**
 * The byte classes of HTTP's grammar (RFC 9110 §5), as lookup tables indexed
 * by byte: 1 for a byte in the class, 0 otherwise. Shared by the request-head
 * parser, the client's response-head parser and the handshake's header-value
 * parsers; a caller indexing with a char code must check it is below 256.
 *
 * @module
 */

/** tchar (RFC 9110 §5.6.2): the bytes of a token (a method, a field name, a token-list element). */
export const TCHAR: Uint8Array = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** field-vchar (RFC 9110 §5.5): visible ASCII and obs-text (a field value, also a reason phrase with SP and HTAB). */
export const FIELD_VCHAR: Uint8Array = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FIELD_VCHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VCHAR[c] = 1;
