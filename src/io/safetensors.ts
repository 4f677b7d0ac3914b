// safetensors checkpoints (https://github.com/huggingface/safetensors, format section): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, and
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes. Written by hand: the
// format is this one paragraph, and no maintained npm package implements it. Writes are atomic (a
// temporary file renamed over the target, in safetensors_file.ts), so a crash never leaves a half-written
// checkpoint. This file has no Node imports: the browser demo reads and writes the same bytes. It writes
// F32 (and I32 for int32 tensors) and reads F32, F16 and BF16 as float32, and I32 and I64 (PyTorch's
// index dtype) as int32 values, validating every header field. What it writes, it checks as it reads
// (shapes against data lengths, int32 values within their exact range), and it stores a CRC-32 of each
// tensor's bytes in the metadata (CHECKSUM_KEY), verified on read: a flipped bit names its tensor.

import { INT32_EXACT } from '../graph/types.ts';

/** A tensor's values on the host, as safetensors files and checkpoints hold them. */
export interface NamedArray {
  /** Its shape (the product of the dims is data.length). */
  shape: number[];
  /** The values; an int32 tensor's are exact integer floats, as its storage holds them. */
  data: Float32Array;
  /** 'int32': written as I32 (read from I32 or I64); float32 when absent. */
  dtype?: 'int32';
}

/** A safetensors file's contents: its tensors by name, and its metadata strings. */
export interface SafetensorsContents {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

/**
 * The metadata key of the tensors' checksums: a JSON object of tensor name -> CRC-32 of its data bytes
 * (8 hex digits). Files without it (PyTorch's, older ones) are read unchecked.
 */
export const CHECKSUM_KEY = 'wgpu_gen_crc32';

/** CRC-32 (IEEE 802.3, the reflected polynomial 0xEDB88320, as zlib's crc32), table-driven. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const hex = (c: number) => c.toString(16).padStart(8, '0');

/**
 * The bytes of a safetensors file holding `tensors` by name (F32, or I32 for dtype 'int32') and the
 * string `metadata`, with a CRC-32 of each tensor's bytes under CHECKSUM_KEY. PyTorch's
 * `safetensors.torch.load_file` reads them; decodeSafetensors reads them back.
 *
 * @throws Error for data that is not a Float32Array or does not fill its shape.
 * @example
 * ```ts
 * import { checkpointTensors, encodeSafetensors } from 'wgpu-gen/io';
 * const { tensors, metadata } = await checkpointTensors(model, [opt]);
 * const bytes = encodeSafetensors(tensors, metadata);  // a Uint8Array to save or download
 * ```
 */
export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  // Checked as decodeSafetensors checks them: a file this writes is one it reads back.
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array))
      throw new Error(
        `safetensors: tensor "${name}" has data ${Object.prototype.toString.call(t.data)}, not a Float32Array`,
      );
    if (!Array.isArray(t.shape) || !t.shape.every(isCount))
      throw new Error(
        `safetensors: tensor "${name}" has shape ${show(t.shape)}, not an array of non-negative integers`,
      );
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(
        `safetensors: tensor "${name}" has shape [${t.shape.join(', ')}] (${count} values) but ${t.data.length} values of data`,
      );
  }
  const sums: Record<string, string> = {};
  for (const [name, t] of tensors) {
    const raw = t.dtype === 'int32' ? Int32Array.from(t.data) : t.data;
    sums[name] = hex(crc32(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)));
  }
  const header: Record<string, unknown> = { __metadata__: { ...metadata, [CHECKSUM_KEY]: JSON.stringify(sums) } };
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * 4;
    header[name] = {
      dtype: t.dtype === 'int32' ? 'I32' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // The spec allows trailing spaces; pad so the data starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [name, t] of tensors) {
    let raw: Float32Array | Int32Array = t.data;
    if (t.dtype === 'int32') {
      raw = new Int32Array(t.data.length);
      for (let i = 0; i < raw.length; i++) {
        const v = t.data[i];
        if (!Number.isInteger(v))
          throw new Error(`safetensors: int32 tensor "${name}" holds ${v} at index ${i}, not an integer`);
        if (Math.abs(v) > INT32_EXACT)
          throw new Error(
            `safetensors: int32 tensor "${name}" holds ${v} at index ${i}, beyond +-${INT32_EXACT} (2^24), the integers an int32 tensor holds exactly`,
          );
        raw[i] = v;
      }
    }
    out.set(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), at);
    at += raw.byteLength;
  }
  return out;
}

// Bytes per element of the dtypes read here; the other safetensors dtypes are named so that their error
// says "not supported" rather than "unknown".
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
const OTHER_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'U32', 'F64', 'U64'];

/** IEEE half -> float (exact: every half, subnormals, Inf and NaN included, is a float32). */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (0x400 + m) * 2 ** (e - 25);
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v).slice(0, 80));

/**
 * Parses a safetensors file, validating the header as the format defines it (huggingface/safetensors
 * README, "Format"; the same checks as its Rust reader): a JSON object whose entries are
 * {dtype, shape: non-negative integers, data_offsets: [begin, end]} (end - begin = elements x dtype size)
 * plus an optional "__metadata__" of strings, the offsets tiling the byte buffer after the header with no
 * overlap, hole or trailing byte. F16 and BF16 tensors (common in PyTorch checkpoints) become float32.
 * Every error names the file (`name`) and the offending field.
 */
export function decodeSafetensors(bytes: Uint8Array, name = 'checkpoint'): SafetensorsContents {
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  if (bytes.length < 8)
    fail(`${bytes.length} bytes is too short for a safetensors file (it starts with an 8-byte header length)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  // The header is a JSON object, so byte 8 is '{': without it the file is another kind of file, and
  // saying so beats quoting a 20-digit "header length" read from its first bytes.
  const notSafetensors = () =>
    fail('not a safetensors file (no 8-byte header length followed by a JSON header "{...}")');
  if (n > BigInt(bytes.length - 8)) {
    if (bytes[8] !== 0x7b) notSafetensors();
    fail(`header length ${n} runs past the end of the file (${bytes.length} bytes): truncated or corrupt file`);
  }
  if (n > 100_000_000n) fail(`header length ${n} is over the format's 100 MB limit`);
  const base = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, base)));
  } catch (e) {
    if (bytes[8] !== 0x7b) notSafetensors();
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail(`the header is ${show(header)}, not a JSON object`);
  if (bytes[8] !== 0x7b) fail('the header does not start with "{" (the format allows padding only at its end)');
  const h = header as Record<string, unknown>;
  const metadata = h.__metadata__ ?? {};
  if (!isObject(metadata)) fail(`__metadata__ is ${show(metadata)}, not an object of strings`);
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') fail(`__metadata__.${k} is ${show(v)}, not a string`);

  const entries: { key: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  const dataBytes = bytes.length - base;
  for (const [key, v] of Object.entries(h)) {
    if (key === '__metadata__') continue;
    const at = `tensor "${key}"`;
    if (!isObject(v)) fail(`${at} is ${show(v)}, not an object {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`${at}: dtype is ${show(dtype)}, not a string`);
    const size = DTYPE_BYTES[dtype as string];
    if (!size) {
      fail(
        `${at}: dtype ${show(dtype)} is ${OTHER_DTYPES.includes(dtype as string) ? 'not supported' : 'not a safetensors dtype'} (F32, F16, BF16, I32 and I64 are read)`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isCount))
      fail(`${at}: shape is ${show(shape)}, not an array of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount))
      fail(`${at}: data_offsets is ${show(off)}, not [begin, end] of non-negative integers`);
    const [begin, end] = off as number[];
    if (end < begin) fail(`${at}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataBytes)
      fail(
        `${at}: data_offsets [${begin}, ${end}] do not fit (truncated or corrupt file): the data buffer has ${dataBytes} bytes`,
      );
    const count = (shape as number[]).reduce((a, c) => a * c, 1);
    if (end - begin !== count * size) {
      fail(
        `${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but shape ${show(shape)} of ${dtype} needs ${count * size}`,
      );
    }
    entries.push({ key, dtype: dtype as string, shape: shape as number[], begin, end });
  }
  // The buffer must be tiled exactly: sorted by offsets, each tensor begins where the previous one ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0,
    prev = '';
  for (const t of sorted) {
    if (t.begin < covered)
      fail(`tensor "${t.key}": data_offsets [${t.begin}, ${t.end}] overlap those of tensor "${prev}"`);
    if (t.begin > covered)
      fail(
        `tensor "${t.key}": data_offsets [${t.begin}, ${t.end}] leave bytes [${covered}, ${t.begin}) of the data buffer unused (a hole)`,
      );
    covered = t.end;
    prev = t.key;
  }
  if (covered !== dataBytes)
    fail(`the tensors' data_offsets cover ${covered} of the data buffer's ${dataBytes} bytes (trailing bytes)`);

  // The checksums this project writes: verified on the raw bytes, then dropped from the metadata.
  let sums: Record<string, unknown> | null = null;
  const meta = metadata as Record<string, string>;
  if (meta[CHECKSUM_KEY] !== undefined) {
    try {
      sums = JSON.parse(meta[CHECKSUM_KEY]);
    } catch {
      // reported below
    }
    if (!isObject(sums)) fail(`__metadata__.${CHECKSUM_KEY} is not a JSON object of tensor checksums`);
    delete meta[CHECKSUM_KEY];
  }
  const tensors = new Map<string, NamedArray>();
  for (const { key, dtype, shape, begin, end } of entries) {
    const src = bytes.subarray(base + begin, base + end);
    if (sums) {
      const want = sums[key];
      if (typeof want !== 'string')
        fail(`tensor "${key}" has no checksum in __metadata__.${CHECKSUM_KEY}: the file was edited or is corrupt`);
      const got = hex(crc32(src));
      if (got !== want)
        fail(
          `tensor "${key}" is corrupt: the CRC-32 of its ${src.length} bytes is ${got}, the file was written with ${want} (a flipped bit, or an edit); restore it from a good copy`,
        );
    }
    let data: Float32Array;
    if (dtype === 'F32') {
      // A copy (Node's Buffer.slice would share the whole file's memory), aligned for the float view.
      const copy = new Uint8Array(src.length);
      copy.set(src);
      data = new Float32Array(copy.buffer);
    } else if (dtype === 'I32' || dtype === 'I64') {
      // Integers become an int32 tensor's values: each must be within its exact range (+-2^24).
      const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
      const wide = dtype === 'I64';
      data = new Float32Array(src.length / (wide ? 8 : 4));
      for (let i = 0; i < data.length; i++) {
        const v = wide ? Number(view.getBigInt64(8 * i, true)) : view.getInt32(4 * i, true);
        if (Math.abs(v) > INT32_EXACT)
          fail(
            `tensor "${key}": ${dtype} value ${v} at index ${i} is beyond +-${INT32_EXACT} (2^24), the integers an int32 tensor holds exactly`,
          );
        data[i] = v;
      }
      tensors.set(key, { shape, data, dtype: 'int32' });
      continue;
    } else {
      const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
      data = new Float32Array(src.length / 2);
      // BF16 is the upper half of a float32's bits, so the conversion is a shift.
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < data.length; i++) {
        const u = view.getUint16(2 * i, true);
        if (dtype === 'F16') data[i] = halfToFloat(u);
        else bits[i] = u << 16;
      }
    }
    tensors.set(key, { shape, data });
  }
  return { tensors, metadata: metadata as Record<string, string> };
}
