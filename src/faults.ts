/** Crash-injection points of the native core, for crash tests that must cover every one. */
import { callNative, native } from './native.js'

/** Names accepted by `PERSISTING_FAULT`: the process aborts when it reaches that point. */
export function faultPoints(): string[] {
  return callNative(() => native().faultPoints())
}
