/**
 * Reader for IDX files, the format MNIST and Fashion-MNIST ship in
 * (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte, a rank
 * byte, `rank` big-endian uint32 dimensions, then the values, big-endian.
 * Gzipped files (`….gz`, detected by their magic bytes, not their name) are
 * inflated first.
 */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import { EsperError } from '../../errors/index.ts';

const inflate = promisify(gunzip);

/** IDX element types by their type byte. */
export const IDX_TYPES = {
  0x08: 'ubyte',
  0x09: 'byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
} as const;

/** The element type of an IDX file. */
export type IdxType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES];

const BYTES: Record<IdxType, number> = { ubyte: 1, byte: 1, short: 2, int: 4, float: 4, double: 8 };

/** The decoded contents of an IDX file. */
export interface IdxArray {
  readonly type: IdxType;
  /** Dimensions, outermost first (`[60000, 28, 28]` for the training images). */
  readonly shape: readonly number[];
  /** The values, row-major, in native byte order. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** What a caller expects of a file (checked after decoding), and how much of it to keep. */
export interface IdxExpectation {
  type?: IdxType;
  /** Expected rank. */
  rank?: number;
  /**
   * Keep only the first `limit` entries along the first axis. `readIdxFile`
   * then reads (and inflates) only that prefix, so bytes past it are not
   * checked. @default all
   */
  limit?: number;
}

function corrupt(source: string, why: string, details: Record<string, unknown> = {}): EsperError {
  return new EsperError('ESPER_DATASET_CORRUPT', `IDX file ${source} is corrupt: ${why}`, { details: { file: source, ...details } });
}

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decodes IDX bytes (already inflated).
 * @param source names the file in error messages.
 * @throws EsperError `ESPER_DATASET_CORRUPT` for a bad magic number, an
 *   unknown type, or a length that disagrees with the dimensions.
 */
export function parseIdx(bytes: Uint8Array, source = '<buffer>', expect: IdxExpectation = {}): IdxArray {
  if (bytes.length < 4) throw corrupt(source, `only ${bytes.length} bytes, shorter than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw corrupt(source, `bad magic number 0x${Buffer.from(bytes.subarray(0, 4)).toString('hex')} (must start with two zero bytes)`);
  }
  const typeByte = bytes[2] as number;
  const type = (IDX_TYPES as Record<number, IdxType | undefined>)[typeByte];
  if (type === undefined) throw corrupt(source, `unknown element type 0x${typeByte.toString(16).padStart(2, '0')}`);
  const rank = bytes[3] as number;
  if (rank === 0) throw corrupt(source, 'rank 0');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw corrupt(source, `truncated header (${bytes.length} bytes, rank ${rank} needs ${headerBytes})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  if (expect.type !== undefined && expect.type !== type) throw corrupt(source, `element type is ${type}, expected ${expect.type}`);
  if (expect.rank !== undefined && expect.rank !== rank) throw corrupt(source, `rank is ${rank} (shape [${shape.join(', ')}]), expected ${expect.rank}`);
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * BYTES[type];
  const kept = keptEntries(shape, expect.limit);
  if (kept < (shape[0] as number)) {
    // A prefix is wanted: the bytes past it may be absent (readIdxFile stops early) and are not checked.
    const rowValues = count / (shape[0] as number);
    const needed = headerBytes + kept * rowValues * BYTES[type];
    if (bytes.length < needed) throw corrupt(source, `${bytes.length} bytes but the first ${kept} entries of [${shape.join(', ')}] need ${needed} (truncated)`, { shape, bytes: bytes.length, expected: needed });
    return { type, shape: [kept, ...shape.slice(1)], data: decode(view, headerBytes, kept * rowValues, type) };
  }
  if (bytes.length !== expected) {
    throw corrupt(source, `${bytes.length} bytes but a ${type} array of shape [${shape.join(', ')}] needs ${expected}${bytes.length < expected ? ' (truncated)' : ' (trailing bytes)'}`, {
      shape,
      bytes: bytes.length,
      expected,
    });
  }
  return { type, shape, data: decode(view, headerBytes, count, type) };
}

function keptEntries(shape: readonly number[], limit: number | undefined): number {
  const first = shape[0] as number;
  if (limit === undefined) return first;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`Error in readIdx: limit must be a non-negative integer, got ${limit}`);
  return Math.min(first, limit);
}

function decode(view: DataView, offset: number, count: number, type: IdxType): IdxArray['data'] {
  switch (type) {
    case 'ubyte':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'byte':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'short': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'double': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Reads and decodes an IDX file, inflating it first when it is gzipped
 * (detected by its magic bytes, not its name). With `expect.limit`, reading
 * and inflating stop once that prefix is in hand.
 * @throws EsperError `ESPER_DATASET_MISSING` when the file does not exist,
 *   `ESPER_DATASET_CORRUPT` when it cannot be inflated or decoded.
 */
export async function readIdxFile(path: string, expect: IdxExpectation = {}): Promise<IdxArray> {
  let gzipped: boolean;
  try {
    const handle = await open(path, 'r');
    try {
      const magic = new Uint8Array(2);
      const { bytesRead } = await handle.read(magic, 0, 2, 0);
      gzipped = isGzip(magic.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new EsperError('ESPER_DATASET_MISSING', `IDX file ${path} does not exist`, { details: { file: path }, cause: error });
    }
    throw error;
  }
  // A whole file is read in one go (a stream of small chunks is ~1.5× slower on the 47 MB training images).
  const bytes = expect.limit === undefined ? await readWhole(path, gzipped) : await readPrefix(path, gzipped, (head) => bytesNeeded(head, expect.limit));
  return parseIdx(bytes, path, expect);
}

function inflateFailed(path: string, error: unknown): EsperError {
  return new EsperError('ESPER_DATASET_CORRUPT', `IDX file ${path} is corrupt: gzip data cannot be inflated (${error instanceof Error ? error.message : String(error)})`, {
    details: { file: path },
    cause: error,
  });
}

async function readWhole(path: string, gzipped: boolean): Promise<Uint8Array> {
  const raw = await readFile(path);
  if (!gzipped) return raw;
  try {
    return await inflate(raw);
  } catch (error) {
    throw inflateFailed(path, error);
  }
}

/** How many bytes the (inflated) file must supply, once its header is known; undefined until then, Infinity for all of it. */
function bytesNeeded(head: Uint8Array, limit: number | undefined): number | undefined {
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  if (head.length < 4) return undefined;
  const rank = head[3] as number;
  const type = (IDX_TYPES as Record<number, IdxType | undefined>)[head[2] as number];
  if (head[0] !== 0 || head[1] !== 0 || type === undefined || rank === 0) return Number.POSITIVE_INFINITY; // let parseIdx report it
  const headerBytes = 4 + 4 * rank;
  if (head.length < headerBytes) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const rowValues = shape.slice(1).reduce((a, b) => a * b, 1);
  return headerBytes + Math.min(shape[0] as number, limit) * rowValues * BYTES[type];
}

/** Reads (inflating when gzipped) until `needed(bytesSoFar)` bytes are in hand or the data ends. */
async function readPrefix(path: string, gzipped: boolean, needed: (head: Uint8Array) => number | undefined): Promise<Uint8Array> {
  const file = createReadStream(path);
  let source: Readable = file;
  if (gzipped) {
    const gunzip = createGunzip();
    file.on('error', (error) => gunzip.destroy(error));
    source = file.pipe(gunzip);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  let target: number | undefined;
  try {
    for await (const chunk of source) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      length += buffer.length;
      target ??= needed(chunks.length === 1 ? buffer : Buffer.concat(chunks, length));
      if (target !== undefined && length >= target) break;
    }
  } catch (error) {
    if (!gzipped) throw error;
    throw inflateFailed(path, error);
  } finally {
    file.destroy();
  }
  const all = Buffer.concat(chunks, length);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/** Encodes an array as IDX bytes (big-endian); used by tests and tools that write small IDX files. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const typeByte = Number(Object.entries(IDX_TYPES).find(([, name]) => name === array.type)?.[0]);
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) throw new RangeError(`Error in encodeIdx: shape [${array.shape.join(', ')}] holds ${count} values, data has ${array.data.length}`);
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * BYTES[array.type]);
  const view = new DataView(out.buffer);
  out[2] = typeByte;
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i] as number;
    const at = header + i * BYTES[array.type];
    switch (array.type) {
      case 'ubyte':
        view.setUint8(at, v);
        break;
      case 'byte':
        view.setInt8(at, v);
        break;
      case 'short':
        view.setInt16(at, v, false);
        break;
      case 'int':
        view.setInt32(at, v, false);
        break;
      case 'float':
        view.setFloat32(at, v, false);
        break;
      case 'double':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
