// safetensors checkpoints (https://github.com/huggingface/safetensors, format section): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, and
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes. Written by hand: the
// format is this one paragraph, and no maintained npm package implements it. Writes are atomic (a
// temporary file renamed over the target, in safetensors_file.ts), so a crash never leaves a half-written
// checkpoint. This file has no Node imports: the browser demo reads and writes the same bytes.

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: Map<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
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
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, name = 'checkpoint'): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error(`${name}: ${bytes.length} bytes is too short for a safetensors file`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.length - 8 || n > 100_000_000) throw new Error(`${name}: corrupt safetensors header length ${n} (file has ${bytes.length} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${name}: corrupt safetensors header (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, NamedArray>();
  for (const [key, v] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const t = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (t.dtype !== 'F32') throw new Error(`${name}: tensor ${key} has dtype ${t.dtype}; only F32 is supported`);
    const [b, e] = t.data_offsets;
    const count = t.shape.reduce((a, c) => a * c, 1);
    if (e - b !== count * 4 || base + e > bytes.length) {
      throw new Error(`${name}: tensor ${key} [${t.shape.join(', ')}] has data_offsets [${b}, ${e}] that do not fit (truncated or corrupt file)`);
    }
    // A copy (Node's Buffer.slice would share the whole file's memory), aligned for the float view.
    const copy = new Uint8Array(e - b);
    copy.set(bytes.subarray(base + b, base + e));
    tensors.set(key, { shape: t.shape, data: new Float32Array(copy.buffer) });
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}
