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
  { name: "FrameWriter, client role (masking)", file: "client_frame_writer.ts" },
  { name: "Sec-WebSocket-Accept", file: "accept.ts" },
  { name: "UTF-8 validation", file: "utf8.ts" },
  { name: "HTTP head parsing", file: "http_head.ts" },
  { name: "permessage-deflate", file: "deflate.ts" },
];
