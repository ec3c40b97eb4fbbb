/**
 * Reader for IDX files, the format MNIST and Fashion-MNIST ship in
 * (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte, a rank
 * byte, `rank` big-endian uint32 dimensions, then the values, big-endian.
 * Gzipped files (`….gz`, detected by their magic bytes, not their name) are
 * inflated first.
 */
import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
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

/** What a caller expects of a file (checked after decoding). */
export interface IdxExpectation {
  type?: IdxType;
  /** Expected rank. */
  rank?: number;
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
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * BYTES[type];
  if (bytes.length !== expected) {
    throw corrupt(source, `${bytes.length} bytes but a ${type} array of shape [${shape.join(', ')}] needs ${expected}${bytes.length < expected ? ' (truncated)' : ' (trailing bytes)'}`, {
      shape,
      bytes: bytes.length,
      expected,
    });
  }
  if (expect.type !== undefined && expect.type !== type) throw corrupt(source, `element type is ${type}, expected ${expect.type}`);
  if (expect.rank !== undefined && expect.rank !== rank) throw corrupt(source, `rank is ${rank} (shape [${shape.join(', ')}]), expected ${expect.rank}`);
  return { type, shape, data: decode(view, headerBytes, count, type) };
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
 * Reads and decodes an IDX file, inflating it first when it is gzipped.
 * @throws EsperError `ESPER_DATASET_MISSING` when the file does not exist,
 *   `ESPER_DATASET_CORRUPT` when it cannot be inflated or decoded.
 */
export async function readIdxFile(path: string, expect: IdxExpectation = {}): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new EsperError('ESPER_DATASET_MISSING', `IDX file ${path} does not exist`, { details: { file: path }, cause: error });
    }
    throw error;
  }
  let bytes = raw;
  if (isGzip(raw)) {
    try {
      bytes = await inflate(raw);
    } catch (error) {
      throw new EsperError('ESPER_DATASET_CORRUPT', `IDX file ${path} is corrupt: gzip data cannot be inflated (${error instanceof Error ? error.message : String(error)})`, {
        details: { file: path },
        cause: error,
      });
    }
  }
  return parseIdx(bytes, path, expect);
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
