/** Record types shared by every layer (records, backends, queue). */

/** A record: a plain JSON object. */
export type Row = Record<string, unknown>
