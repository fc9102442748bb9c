// Types for free-port.mjs (plain JavaScript so benches and scripts import it with node).
export declare function freePort(): Promise<number>
