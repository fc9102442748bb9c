/**
 * What a record reads back as, defined against the original JS value (JSON semantics plus the
 * SPEC's "values keep their value"):
 * - a field that is `undefined` or absent reads as null (every record has every field of the
 *   bucket's schema, nested objects too: fields other records added read as null);
 * - array holes and `undefined` array elements read as null (JSON.stringify semantics);
 * - a Date reads as its ISO string (`toJSON`), an invalid Date as null;
 * - -0 reads as 0; every other number reads as itself (int or float, any magnitude);
 * - NaN/±Infinity read as themselves: a library that cannot store them must reject the
 *   record with INVALID_RECORD, never store null;
 * - a typed array reads back as the same typed array class with the same elements;
 * - strings read back identical (a lone surrogate cannot, so such records must be rejected).
 * Returns a description of the first difference, or null.
 */
export function readBackDiff(actual: unknown, original: unknown, path = '$'): string | null {
  const show = (v: unknown) => {
    try {
      const s = JSON.stringify(v, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))
      return s === undefined ? String(v) : s.length > 80 ? s.slice(0, 80) + '...' : s
    } catch {
      return String(v)
    }
  }
  const fail = (why: string) => `${path}: ${why} (read ${show(actual)}, wrote ${show(original)})`
  if (original === undefined || original === null) return actual === null || actual === undefined ? null : fail('expected null')
  if (original instanceof Date) {
    const iso = Number.isNaN(original.getTime()) ? null : original.toISOString()
    return actual === iso ? null : fail('expected the ISO string')
  }
  if (ArrayBuffer.isView(original)) {
    const ctor = (original as object).constructor
    if (!(actual instanceof (ctor as any))) return fail(`expected a ${ctor.name}`)
    const a = Array.from(actual as ArrayLike<number>)
    const o = Array.from(original as unknown as ArrayLike<number>)
    return a.length === o.length && a.every((x, i) => Object.is(x, o[i])) ? null : fail('typed array elements differ')
  }
  switch (typeof original) {
    case 'number':
      if (Object.is(original, -0)) return actual === 0 ? null : fail('expected 0')
      return Object.is(actual, original) ? null : fail('number changed')
    case 'string':
    case 'boolean':
      return actual === original ? null : fail('value changed')
    case 'object': {
      if (Array.isArray(original)) {
        if (!Array.isArray(actual)) return fail('expected an array')
        if (actual.length !== original.length) return fail('array length changed')
        for (let i = 0; i < original.length; i++) {
          const d = readBackDiff(actual[i], i in original ? original[i] : undefined, `${path}[${i}]`)
          if (d) return d
        }
        return null
      }
      if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return fail('expected an object')
      const o = original as Record<string, unknown>
      const a = actual as Record<string, unknown>
      for (const k of Object.keys(o)) {
        const d = readBackDiff(Object.hasOwn(a, k) ? a[k] : undefined, o[k], `${path}.${JSON.stringify(k)}`)
        if (d) return d
      }
      for (const k of Object.keys(a)) {
        if (!Object.prototype.hasOwnProperty.call(o, k) && a[k] !== null) return fail(`extra field ${JSON.stringify(k)} is not null`)
      }
      return null
    }
    default:
      return fail(`unexpected ${typeof original}`)
  }
}
