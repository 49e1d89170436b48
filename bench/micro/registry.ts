/**
 * The micro benchmark areas, in the order the runner prints them.
 *
 * Each area is one case file in this folder exporting
 * `const cases: MicroCase[]` (see `case.ts`). An area whose file does not
 * exist yet is printed as "not yet available" with what it waits for, so
 * adding it later means only writing that file; its `pending` note here can
 * then be dropped.
 */

/** One area of the micro suite. */
export interface MicroArea {
  /** Heading in the table. */
  name: string;
  /** The case file's name in this folder. */
  file: string;
  /** While the file does not exist: the code it waits for and what it will measure. */
  pending?: string;
}

export const AREAS: MicroArea[] = [
  { name: "FrameReader", file: "frame_reader.ts" },
  { name: "applyMask", file: "mask.ts" },
  { name: "FrameWriter", file: "frame_writer.ts" },
  { name: "Sec-WebSocket-Accept", file: "accept.ts" },
  {
    name: "UTF-8 validation",
    file: "utf8.ts",
    pending: "the integrator's streaming validator; will measure 1 MiB of ASCII and of multi-byte text, " +
      'fed whole and in 1,500-byte pieces, against new TextDecoder("utf-8", { fatal: true }).decode',
  },
  {
    name: "HTTP head parsing",
    file: "http_head.ts",
    pending: "branch engines (src/http/); will measure parsing a browser-sized upgrade request (~500 B, " +
      "Chrome's header set) whole and in small pieces",
  },
  {
    name: "permessage-deflate",
    file: "deflate.ts",
    pending: "branch deflate; will measure a compress + decompress round trip of 1 KiB and 64 KiB " +
      "JSON-like text with context takeover, against node:zlib deflateRawSync + inflateRawSync",
  },
];
