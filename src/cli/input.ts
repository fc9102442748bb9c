/**
 * Record sources for `ingest`: NDJSON, a JSON array or CSV, from a file or stdin. Each yields
 * one item per input record with its 1-based line number, so bad records can be reported by line.
 */
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { parse as parseCsv } from 'csv-parse'
import { CliError, EXIT } from './common.js'

export type Format = 'ndjson' | 'json' | 'csv'

export interface InputItem {
  /** 1-based line where the record starts. */
  line: number
  record?: unknown
  /** Why the record could not be parsed (then `record` is undefined). */
  error?: string
  /** The record's source text (NDJSON only; lets a writer with putNdjson skip re-encoding). */
  raw?: string
  /** Input bytes consumed so far (for progress). */
  bytes: number
}

export function detectFormat(file: string, given: string | undefined): Format {
  if (given) return given as Format
  const ext = extname(file).toLowerCase()
  if (ext === '.csv') return 'csv'
  if (ext === '.json') return 'json'
  if (ext === '.ndjson' || ext === '.jsonl' || file === '-') return 'ndjson'
  throw new CliError(`cannot tell the format of '${file}' from its extension; pass --format ndjson|json|csv`, EXIT.USAGE)
}

function openInput(file: string): Readable {
  return file === '-' ? process.stdin : createReadStream(file)
}

async function* ndjson(file: string): AsyncGenerator<InputItem> {
  const stream = openInput(file)
  let bytes = 0
  stream.on('data', (chunk: Buffer | string) => (bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length))
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  let line = 0
  for await (const text of lines) {
    line++
    if (text.trim() === '') continue
    try {
      yield { line, record: JSON.parse(text), raw: text, bytes }
    } catch (err) {
      yield { line, error: `not valid JSON: ${(err as Error).message}`, bytes }
    }
  }
}

/** Line and column of a character offset. */
function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1
  let last = -1
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      last = i
    }
  }
  return { line, col: offset - last }
}

/** Start offsets of the top-level elements of a JSON array text (assumes it parsed). */
function elementOffsets(text: string): number[] {
  const starts: number[] = []
  let depth = 0
  let inString = false
  let expecting = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue
    if (depth === 1 && expecting && c !== ']') {
      starts.push(i)
      expecting = false
    }
    if (c === '"') inString = true
    else if (c === '[' || c === '{') {
      depth++
      if (depth === 1) expecting = true
    } else if (c === ']' || c === '}') depth--
    else if (c === ',' && depth === 1) expecting = true
  }
  return starts
}

async function* jsonArray(file: string): AsyncGenerator<InputItem> {
  let text: string
  if (file === '-') {
    const chunks: Buffer[] = []
    for await (const c of process.stdin) chunks.push(c as Buffer)
    text = Buffer.concat(chunks).toString('utf8')
  } else {
    text = await readFile(file, 'utf8')
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    const msg = (err as Error).message
    const pos = /position (\d+)/.exec(msg)
    const where = pos ? lineCol(text, Number(pos[1])) : undefined
    throw new CliError(
      `${file === '-' ? 'stdin' : file}${where ? `:${where.line}:${where.col}` : ''}: not valid JSON (${msg}); nothing was ingested`,
      EXIT.BAD_INPUT,
    )
  }
  if (!Array.isArray(data)) {
    throw new CliError(`${file}: expected a JSON array of records (or use --format ndjson)`, EXIT.BAD_INPUT)
  }
  const starts = elementOffsets(text)
  // Line numbers without rescanning the text for each element.
  let line = 1
  let at = 0
  for (let i = 0; i < data.length; i++) {
    const start = starts[i] ?? at
    for (; at < start; at++) if (text.charCodeAt(at) === 10) line++
    yield { line, record: data[i], bytes: start }
  }
}

async function* csv(file: string, skipBad: boolean): AsyncGenerator<InputItem> {
  const input = openInput(file)
  let bytes = 0
  input.on('data', (chunk: Buffer | string) => (bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length))
  const bad: InputItem[] = []
  const parser = parseCsv({
    columns: true,
    cast: true,
    info: true,
    skip_empty_lines: true,
    trim: true,
    skip_records_with_error: skipBad,
  })
  parser.on('skip', (err: Error & { lines?: number }) => {
    bad.push({ line: err.lines ?? 0, error: err.message, bytes })
  })
  input.pipe(parser)
  input.on('error', (err) => parser.destroy(err))
  try {
    for await (const item of parser as AsyncIterable<{ record: Record<string, unknown>; info: { lines: number } }>) {
      while (bad.length > 0) yield bad.shift()!
      const record: Record<string, unknown> = {}
      // Empty cells are absent values (null), not empty strings.
      for (const [k, v] of Object.entries(item.record)) record[k] = v === '' ? null : v
      yield { line: item.info.lines, record, bytes }
    }
    while (bad.length > 0) yield bad.shift()!
  } catch (err) {
    const e = err as Error & { lines?: number; code?: string }
    if (e.code?.startsWith('CSV_')) {
      yield { line: e.lines ?? 0, error: e.message, bytes }
      return
    }
    throw err
  }
}

export function readInput(file: string, format: Format, skipBad: boolean): AsyncGenerator<InputItem> {
  if (format === 'ndjson') return ndjson(file)
  if (format === 'json') return jsonArray(file)
  return csv(file, skipBad)
}
