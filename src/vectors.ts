/**
 * Vectors as raw floats across the native boundary, both ways. In: a batch's `Float32Array`/
 * `Float64Array` values, and number arrays in vector fields (`vector` and the declared
 * `vectorColumns`), go to the core as one contiguous float buffer per field, beside the JSON of
 * every other field; no float is ever written as text. Out: the core sends vector columns made
 * from typed arrays the same way, and reads hand them back as typed arrays of the same kind.
 */
import type { NativeRows, NativeVectors } from '../binding.cjs'
import { checkRecord, describe, invalid, label, stringify } from './records.js'
import type { Row } from './types.js'

/** A vector field of a batch as raw floats, for the native `putJsonVectors`. */
export type VectorColumn = NativeVectors

/** A batch for the native core: the JSON of every field but the vectors, which come as raw bytes. */
export interface EncodedBatch {
  json: string
  vectors?: VectorColumn[]
}

type VectorKind = typeof Float32Array | typeof Float64Array

interface VectorField {
  kind: VectorKind
  dim: number
  /** Some record has no vector there (undefined or null). */
  missing: boolean
}

/**
 * Validates every record and encodes the batch: one JSON.stringify of every field but the
 * vectors, and each vector field as one float buffer. `vectorNames` are the fields whose number
 * arrays are float32 vectors (`vector` and the declared ones); a batch where such a field holds
 * anything else there (or arrays of several lengths) sends that field as JSON, where the core
 * types or refuses it as it always does.
 */
export function encodeBatch(records: Row[], vectorNames: ReadonlySet<string> = DEFAULT_VECTOR_NAMES): EncodedBatch {
  if (!Array.isArray(records)) throw invalid('records', `must be an array, got ${describe(records)}`)
  // Plain vector fields first: one pass per field checks and copies their numbers, so the
  // record check skips them (checked there, a 128-number array cost as much as the copy).
  const columns = plainColumns(records, vectorNames)
  const typed = checkBatch(records, undefined, columns.length === 0 ? undefined : new Set(columns.map((c) => c.name)))
  if (typed === undefined && columns.length === 0) return { json: stringify(records) }
  for (const [name, f] of typed ?? []) columns.push(typedColumn(records, name, f))
  const drop = new Set(columns.map((c) => c.name))
  return { json: stringify(records.map((r) => omit(r, drop))), vectors: columns }
}

/** The record without the fields in `drop` (the vectors that travel apart from its JSON). */
export function omit(r: Row, drop: ReadonlySet<string>): Row {
  const o: Row = {}
  for (const k in r) if (!drop.has(k)) o[k] = r[k]
  return o
}

/**
 * Checks every record of a batch (typed-array vectors allowed at the top level) and returns its
 * typed-array vector fields, checked by `typedFields`, or undefined when it has none. `what`
 * names the records in errors instead of their index; `checked` are top-level fields already
 * checked by the caller.
 */
export function checkBatch(records: Row[], what?: string, checked?: ReadonlySet<string>): Map<string, VectorField> | undefined {
  let vectors = false
  for (let i = 0; i < records.length; i++) if (checkRecord(records[i], what ?? i, true, checked)) vectors = true
  return vectors ? typedFields(records) : undefined
}

const DEFAULT_VECTOR_NAMES: ReadonlySet<string> = new Set(['vector'])

/**
 * The typed-array vector fields of a batch, checked: one kind and one length (at least 1) per
 * field, every value finite, no other kind of value in that field.
 */
export function typedFields(records: Row[]): Map<string, VectorField> {
  const fields = new Map<string, VectorField>()
  for (const r of records) {
    for (const k in r) {
      const v = r[k]
      if ((v instanceof Float32Array || v instanceof Float64Array) && !fields.has(k)) fields.set(k, { kind: Float32Array, dim: 0, missing: false })
    }
  }
  for (const [name, field] of fields) {
    let seen = false
    for (let i = 0; i < records.length; i++) {
      const v = records[i][name]
      if (v === undefined || v === null) {
        field.missing = true
        continue
      }
      if (!(v instanceof Float32Array || v instanceof Float64Array)) {
        throw invalid(label(i), `has ${describe(v)} at ${name}, where other records hold typed-array vectors; use one kind per field`)
      }
      const k = v instanceof Float64Array ? Float64Array : Float32Array
      if (!seen) {
        seen = true
        field.kind = k
        field.dim = v.length
      } else if (k !== field.kind) {
        throw invalid(label(i), `has a ${k.name} at ${name}, where other records hold ${field.kind.name}s`)
      }
      if (v.length !== field.dim || v.length === 0) {
        throw invalid(label(i), `has a vector of ${v.length} values at ${name}${v.length === 0 ? '; a vector needs at least one' : `, where other records have ${field.dim}`}`)
      }
      for (let j = 0; j < v.length; j++) {
        if (!Number.isFinite(v[j])) throw invalid(label(i), `has a non-finite value at ${name}[${j}] (${v[j]}), which a record cannot hold`)
      }
    }
  }
  return fields
}

/**
 * Vector fields holding arrays of finite numbers of one length (or nothing) in every record, as
 * float64 columns (the core makes them float32 vectors, or keeps them exact in a list column). A
 * field holding anything else anywhere is left to the JSON path, which types or refuses it.
 */
function plainColumns(records: Row[], names: ReadonlySet<string>): VectorColumn[] {
  const out: VectorColumn[] = []
  for (const name of names) {
    const c = plainColumn(records, name)
    if (c !== undefined) out.push(c)
  }
  return out
}

function plainColumn(records: Row[], name: string): VectorColumn | undefined {
  const n = records.length
  let dim = 0
  let flat: Float64Array | undefined
  let present: Buffer | undefined
  for (let i = 0; i < n; i++) {
    const r = records[i]
    const v = typeof r === 'object' && r !== null ? (r[name] as unknown) : undefined
    if (v === undefined || v === null) {
      present ??= Buffer.alloc(n, 1)
      present[i] = 0
      continue
    }
    if (!Array.isArray(v) || v.length === 0 || (dim !== 0 && v.length !== dim)) return undefined
    if (flat === undefined) {
      dim = v.length
      flat = new Float64Array(n * dim)
    }
    const base = i * dim
    for (let j = 0; j < dim; j++) {
      const x: unknown = v[j]
      if (typeof x !== 'number' || x - x !== 0) return undefined
      flat[base + j] = x
    }
  }
  if (flat === undefined) return undefined
  return { name, dim, f64: true, data: Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength), present, plain: true }
}

function typedColumn(records: Row[], name: string, { kind, dim, missing }: VectorField): VectorColumn {
  const flat = new kind(records.length * dim)
  const present = missing ? Buffer.alloc(records.length) : undefined
  for (let i = 0; i < records.length; i++) {
    const v = records[i][name] as Float32Array | Float64Array | null | undefined
    if (v === undefined || v === null) continue
    flat.set(v, i * dim)
    if (present) present[i] = 1
  }
  return { name, dim, f64: kind === Float64Array, data: Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength), present }
}

/** Rows read from the core, their typed-array vector columns attached as typed arrays. */
export function rowsOf(read: NativeRows): Row[] {
  const rows = JSON.parse(read.json) as Row[]
  for (const v of read.vectors) attach(rows, v)
  return rows
}

function attach(rows: Row[], v: NativeVectors): void {
  const Kind = v.f64 ? Float64Array : Float32Array
  // One aligned copy per column (a Buffer's offset need not be a multiple of 4 or 8); each row
  // gets a view of its own slice.
  const all = new Kind(rows.length * v.dim)
  new Uint8Array(all.buffer).set(v.data)
  const present = v.present
  for (let i = 0; i < rows.length; i++) {
    rows[i][v.name] = present !== undefined && present !== null && present[i] === 0 ? null : all.subarray(i * v.dim, (i + 1) * v.dim)
  }
}
