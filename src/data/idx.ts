// Reader of the IDX format of MNIST-style datasets (LeCun et al., http://yann.lecun.com/exdb/mnist/):
// magic = 0x00 0x00 <type> <ndims>, then ndims big-endian u32 sizes, then the data. Gzipped files
// (magic 1f 8b) are inflated first. Every malformed input gets an error naming the file and the fault.
// Node only (the browser demo gets its data another way).

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** An IDX file's contents: its dims (e.g. [n, 28, 28] for images, [n] for labels) and its bytes, row-major. */
export interface IdxArray {
  /** The size of each dim, outermost first. */
  dims: number[];
  /** The values (unsigned bytes). */
  data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Parses IDX bytes (gzipped or not): the format of MNIST-style datasets, unsigned-byte data of 1 to 4
 * dims. `name` names the data in errors.
 * @throws Error naming the fault: a corrupt gzip stream, a bad magic, an unsupported type, a truncated
 * header or data, trailing bytes.
 */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new Error(`${name}: corrupt gzip stream (${(e as Error).message}); the file is damaged or truncated`, {
        cause: e,
      });
    }
  }
  if (buf.length < 4) throw new Error(`${name}: ${buf.length} bytes is too short for an IDX header`);
  if (buf[0] !== 0 || buf[1] !== 0)
    throw new Error(
      `${name}: bad IDX magic ${[...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')} (expected 00 00 08 0n)`,
    );
  if (buf[2] !== UBYTE)
    throw new Error(`${name}: IDX data type 0x${buf[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const nd = buf[3];
  if (nd < 1 || nd > 4) throw new Error(`${name}: IDX with ${nd} dimensions is not an image or label file`);
  if (buf.length < 4 + 4 * nd) throw new Error(`${name}: truncated IDX header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd;
  if (buf.length - start < count) {
    throw new Error(
      `${name}: truncated: the header promises ${count} values [${dims.join(' x ')}] but ${buf.length - start} bytes follow`,
    );
  }
  if (buf.length - start > count)
    throw new Error(`${name}: ${buf.length - start - count} bytes of trailing garbage after the data`);
  return { dims, data: buf.subarray(start, start + count) };
}

/**
 * Reads and parses an IDX file (Node; see parseIdx); `hint` is appended to the error when the file
 * cannot be read (how to get it).
 * @example
 * ```ts
 * const images = readIdx('/data/train-images-idx3-ubyte.gz');   // dims [60000, 28, 28]
 * ```
 */
export function readIdx(path: string, hint = ''): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new Error(`data file ${path} is missing${hint ? `: ${hint}` : ''}`, { cause: e });
    throw new Error(`cannot read data file ${path}: ${err.message}`, { cause: e });
  }
  return parseIdx(bytes, path);
}
