// safetensors reader: every malformed header field is an Error naming the file and the field (the format:
// huggingface/safetensors README, "Format"); F16 and BF16 tensors read as float32 against hand-derived
// bit patterns, I32 and I64 as int32 values (the range checked); the F32 and I32 writer round-trips; a checkpoint's optimizer_steps metadata is validated. The
// files are built by hand here (header JSON + bytes), independent of the encoder under test.
import { describe, expect, it } from 'vitest';
import { Generator, nn, withBackend } from '../src/index.ts';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.ts';
import { restoreCheckpoint } from '../src/io/checkpoint.ts';
import { cpu } from './helpers.ts';

/** 8-byte LE header length, the header text (JSON of `header`, or `raw`), then `data`. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), raw?: string): Uint8Array {
  const h = new TextEncoder().encode(raw ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);
const i64 = (...v: bigint[]) => new Uint8Array(new BigInt64Array(v).buffer);
/** Little-endian 16-bit words. */
const u16 = (...w: number[]) => new Uint8Array(w.flatMap((x) => [x & 0xff, x >> 8]));
const decode = (b: Uint8Array) => decodeSafetensors(b, 'bad.safetensors');
const a = (o: object) => ({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...o } });

describe('decodeSafetensors rejects malformed files with the file and the field named', () => {
  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'garbage bytes',
      () => new TextEncoder().encode('hello world, this is not a checkpoint'),
      /^bad\.safetensors: not a safetensors file/,
    ],
    ['too short', () => new Uint8Array(5), /^bad\.safetensors: 5 bytes is too short for a safetensors file/],
    [
      'header length beyond the file',
      () => {
        const b = file(a({}), f32(1, 2));
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      },
      /^bad\.safetensors: header length 1000 runs past the end of the file \(\d+ bytes\): truncated or corrupt file/,
    ],
    [
      'a written file cut short in its data',
      () => encodeSafetensors(new Map([['w', { shape: [100], data: new Float32Array(100) }]])).subarray(0, 200),
      /^bad\.safetensors: tensor "w": data_offsets \[0, 400\] do not fit \(truncated or corrupt file\)/,
    ],
    [
      'a written file cut short in its header',
      () => encodeSafetensors(new Map([['w', { shape: [100], data: new Float32Array(100) }]])).subarray(0, 20),
      /^bad\.safetensors: header length \d+ runs past the end of the file \(20 bytes\): truncated or corrupt file/,
    ],
    [
      'header not JSON',
      () => file(null, undefined, '{not json'),
      /^bad\.safetensors: the header is not valid UTF-8 JSON/,
    ],
    [
      'header not UTF-8',
      () => file(null, undefined, '{"a":1}').map((x, i) => (i === 10 ? 0xff : x)),
      /^bad\.safetensors: the header is not valid UTF-8 JSON/,
    ],
    ['header null', () => file(null), /^bad\.safetensors: the header is null, not a JSON object/],
    ['header an array', () => file([1, 2]), /^bad\.safetensors: the header is \[1,2\], not a JSON object/],
    ['header a number', () => file(42), /^bad\.safetensors: the header is 42, not a JSON object/],
    [
      'header padded at its start',
      () => file(null, undefined, ' {}'),
      /^bad\.safetensors: the header does not start with "\{"/,
    ],
    [
      'tensor entry not an object',
      () => file({ a: 5 }),
      /^bad\.safetensors: tensor "a" is 5, not an object \{dtype, shape, data_offsets\}/,
    ],
    [
      'missing dtype',
      () => file({ a: { shape: [2], data_offsets: [0, 8] } }, f32(1, 2)),
      /^bad\.safetensors: tensor "a": dtype is missing, not a string/,
    ],
    [
      'unknown dtype',
      () => file(a({ dtype: 'Q7' }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": dtype "Q7" is not a safetensors dtype \(F32, F16, BF16, I32 and I64 are read\)/,
    ],
    [
      'unsupported dtype F64',
      () => file({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /^bad\.safetensors: tensor "a": dtype "F64" is not supported \(F32, F16, BF16, I32 and I64 are read\)/,
    ],
    [
      'unsupported dtype U64',
      () => file({ a: { dtype: 'U64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /^bad\.safetensors: tensor "a": dtype "U64" is not supported/,
    ],
    // 2^24 + 1 = 16777217 is the first integer float32 storage would round
    [
      'an I64 value past the int32 range',
      () => file({ a: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, i64(3n, 16777217n)),
      /^bad\.safetensors: tensor "a": I64 value 16777217 at index 1 is beyond \+-16777216 \(2\^24\)/,
    ],
    [
      'an I32 value past the int32 range',
      () =>
        file(
          { a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } },
          new Uint8Array(new Int32Array([-2147483648]).buffer),
        ),
      /^bad\.safetensors: tensor "a": I32 value -2147483648 at index 0 is beyond/,
    ],
    [
      'shape null',
      () => file(a({ shape: null }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": shape is null, not an array of non-negative integers/,
    ],
    [
      'shape negative',
      () => file(a({ shape: [-2] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": shape is \[-2\], not an array of non-negative integers/,
    ],
    [
      'shape fractional',
      () => file(a({ shape: [0.5, 4] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": shape is \[0\.5,4\], not an array/,
    ],
    [
      'missing data_offsets',
      () => file({ a: { dtype: 'F32', shape: [2] } }, f32(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets is missing, not \[begin, end\]/,
    ],
    [
      'negative data_offsets',
      () => file(a({ data_offsets: [-4, 4] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets is \[-4,4\], not \[begin, end\] of non-negative integers/,
    ],
    [
      'fractional data_offsets',
      () => file(a({ data_offsets: [0.5, 8.5] }), f32(1, 2, 3)),
      /^bad\.safetensors: tensor "a": data_offsets is \[0\.5,8\.5\], not \[begin, end\]/,
    ],
    [
      'three data_offsets',
      () => file(a({ data_offsets: [0, 4, 8] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets is \[0,4,8\], not \[begin, end\]/,
    ],
    [
      'reversed data_offsets',
      () =>
        file(
          {
            a: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [8, 0] },
          },
          f32(1, 2),
        ),
      /^bad\.safetensors: tensor "b": data_offsets \[8, 0\] end before they begin/,
    ],
    [
      'out-of-range data_offsets',
      () => file(a({ data_offsets: [8, 16] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets \[8, 16\] do not fit \(truncated or corrupt file\): the data buffer has 8 bytes/,
    ],
    [
      'overlapping tensors',
      () =>
        file(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          f32(1, 2, 3),
        ),
      /^bad\.safetensors: tensor "b": data_offsets \[4, 12\] overlap those of tensor "a"/,
    ],
    [
      'the same bytes for two tensors',
      () =>
        file(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          },
          f32(1, 2),
        ),
      /^bad\.safetensors: tensor "[ab]": data_offsets \[0, 8\] overlap those of tensor "[ab]"/,
    ],
    [
      'a hole in the buffer',
      () =>
        file(
          {
            a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
            b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
          },
          f32(1, 2, 3),
        ),
      /^bad\.safetensors: tensor "b": data_offsets \[8, 12\] leave bytes \[4, 8\) of the data buffer unused \(a hole\)/,
    ],
    [
      'trailing bytes not covered',
      () => file(a({}), f32(1, 2, 3)),
      /^bad\.safetensors: the tensors' data_offsets cover 8 of the data buffer's 12 bytes \(trailing bytes\)/,
    ],
    [
      'size not shape x dtype (F32)',
      () => file(a({ shape: [3] }), f32(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets \[0, 8\] hold 8 bytes, but shape \[3\] of F32 needs 12/,
    ],
    [
      'size not shape x dtype (F16)',
      () => file({ a: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 4] } }, u16(1, 2)),
      /^bad\.safetensors: tensor "a": data_offsets \[0, 4\] hold 4 bytes, but shape \[2,2\] of F16 needs 8/,
    ],
    [
      '__metadata__ not an object',
      () => file({ __metadata__: 'x' }),
      /^bad\.safetensors: __metadata__ is "x", not an object of strings/,
    ],
    [
      '__metadata__ an array',
      () => file({ __metadata__: ['x'] }),
      /^bad\.safetensors: __metadata__ is \["x"\], not an object of strings/,
    ],
    [
      '__metadata__ with a non-string value',
      () => file({ __metadata__: { steps: 3 } }),
      /^bad\.safetensors: __metadata__\.steps is 3, not a string/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      const b = bytes();
      expect(() => decode(b)).toThrow(message);
      // Always an Error of ours, never a TypeError from a missing field.
      expect(() => decode(b)).toThrow(Error);
      let thrown: unknown;
      try {
        decode(b);
      } catch (e) {
        thrown = e;
      }
      expect((thrown as Error).constructor).toBe(Error);
    });
  }
});

describe('decodeSafetensors reads valid files', () => {
  it('F16 to float32 exactly: normals, subnormals, zeros, Inf, NaN', () => {
    // Hand-derived: 0x3c00 = 1; 0xc000 = -2; 0x3555 = 0.333251953125 (1 + 341/1024) * 2^-2; 0x7bff = 65504
    // (largest half); 0x0400 = 2^-14 (smallest normal); 0x0001 = 2^-24 and 0x03ff = 1023 * 2^-24
    // (subnormals); 0x8000 = -0; 0x7c00 = Inf; 0xfc00 = -Inf; 0x7e00 = NaN.
    const words = [0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x03ff, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0000];
    const { tensors } = decode(file({ h: { dtype: 'F16', shape: [3, 4], data_offsets: [0, 24] } }, u16(...words)));
    const t = tensors.get('h')!;
    expect(t.shape).toEqual([3, 4]);
    expect(t.dtype, 'an F16 tensor reads as a float32 one').toBeUndefined();
    expect([...t.data]).toEqual([
      1,
      -2,
      0.333251953125,
      65504,
      2 ** -14,
      2 ** -24,
      1023 * 2 ** -24,
      -0,
      Infinity,
      -Infinity,
      NaN,
      0,
    ]);
    expect(Object.is(t.data[7], -0)).toBe(true);
  });

  it('BF16 to float32 as the upper 16 bits', () => {
    // 0x3f80 = 1; 0xc000 = -2; 0x3eab -> f32 bits 0x3eab0000 = 0.333984375; 0x0001 -> 0x00010000 (an f32
    // subnormal, 2^-133); 0x7f80 = Inf; 0xff80 = -Inf; 0x7fc0 = NaN; 0x4049 -> 3.140625.
    const words = [0x3f80, 0xc000, 0x3eab, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x4049];
    const { tensors } = decode(file({ b: { dtype: 'BF16', shape: [8], data_offsets: [0, 16] } }, u16(...words)));
    expect([...tensors.get('b')!.data]).toEqual([1, -2, 0.333984375, 2 ** -133, Infinity, -Infinity, NaN, 3.140625]);
  });

  it('mixed dtypes in any offset order, a scalar, an empty tensor, a space-padded header and metadata', () => {
    const data = new Uint8Array([...u16(0x3c00, 0x4000), ...f32(0.5), ...u16(0x3f80)]);
    const header = {
      __metadata__: { format: 'pt' },
      w: { dtype: 'F32', shape: [], data_offsets: [4, 8] },
      h: { dtype: 'F16', shape: [2, 1], data_offsets: [0, 4] },
      e: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] },
      b: { dtype: 'BF16', shape: [1], data_offsets: [8, 10] },
    };
    const { tensors, metadata } = decode(file(null, data, JSON.stringify(header) + '   '));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['w', 'h', 'e', 'b']);
    expect(tensors.get('w')).toEqual({ shape: [], data: new Float32Array([0.5]) });
    expect(tensors.get('h')).toEqual({ shape: [2, 1], data: new Float32Array([1, 2]) });
    expect(tensors.get('e')).toEqual({ shape: [0, 3], data: new Float32Array(0) });
    expect(tensors.get('b')).toEqual({ shape: [1], data: new Float32Array([1]) });
  });

  it('I32 and I64 (torch.long) read as int32 values: negatives, the range ends, zeros', () => {
    const { tensors } = decode(
      file(
        {
          i: { dtype: 'I32', shape: [2, 2], data_offsets: [0, 16] },
          l: { dtype: 'I64', shape: [3], data_offsets: [16, 40] },
        },
        new Uint8Array([...new Uint8Array(new Int32Array([7, -1, 16777216, 0]).buffer), ...i64(-16777216n, 5n, -0n)]),
      ),
    );
    expect(tensors.get('i')).toEqual({ shape: [2, 2], data: new Float32Array([7, -1, 16777216, 0]), dtype: 'int32' });
    expect(tensors.get('l')).toEqual({ shape: [3], data: new Float32Array([-16777216, 5, 0]), dtype: 'int32' });
  });

  it("an int32 entry is written as I32 (the header says so, the bytes are two's complement) and reads back", () => {
    const src = new Map([
      ['labels', { shape: [4], data: new Float32Array([3, -2, 0, 16777216]), dtype: 'int32' as const }],
      ['w', { shape: [1], data: new Float32Array([0.5]) }],
    ]);
    const bytes = encodeSafetensors(src);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header.labels.dtype).toBe('I32');
    expect(header.w.dtype).toBe('F32');
    expect([...new Int32Array(bytes.slice(8 + n, 8 + n + 16).buffer)]).toEqual([3, -2, 0, 16777216]);
    expect([...decodeSafetensors(bytes.slice(), 'x').tensors]).toEqual([...src]);
    expect(() =>
      encodeSafetensors(new Map([['bad', { shape: [1], data: new Float32Array([1.5]), dtype: 'int32' as const }]])),
    ).toThrow(/int32 tensor "bad" holds 1.5 at index 0, not an integer/);
  });

  it('the F32 writer round-trips (names, shapes, values, metadata), the data 8-byte aligned', () => {
    const src = new Map([
      ['enc.weight', { shape: [2, 3], data: new Float32Array([1, -2, 3.5, 1e-30, -0, 7]) }],
      ['enc.bias', { shape: [3], data: new Float32Array([Infinity, 0.25, -1e30]) }],
      ['empty', { shape: [0], data: new Float32Array(0) }],
    ]);
    const bytes = encodeSafetensors(src, { optimizer_steps: '[3]' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(bytes.slice(), 'roundtrip.safetensors');
    expect(metadata).toEqual({ optimizer_steps: '[3]' });
    expect([...tensors]).toEqual([...src]);
  });
});

describe('restoreCheckpoint validates optimizer_steps before writing anything', () => {
  const restore = (steps: string) =>
    withBackend(cpu, async () => {
      const model = new nn.Linear(2, 1, { generator: new Generator(1) });
      const before = await model.stateDict().get('weight')!.toArray();
      const opt = new nn.Adam(model.parameters(), { lr: 0.1 });
      const tensors = new Map(
        [...model.stateDict()].map(([k, t]) => [k, { shape: t.shape, data: new Float32Array(t.size).fill(9) }]),
      );
      try {
        await restoreCheckpoint(
          { tensors, metadata: { optimizer_steps: steps } },
          model,
          [opt],
          'run/ckpt.safetensors',
        );
      } catch (e) {
        // All or nothing: a rejected file leaves the weights as they were.
        expect(await model.stateDict().get('weight')!.toArray()).toEqual(before);
        throw e;
      }
      expect([...(await model.stateDict().get('weight')!.toArray())]).toEqual([9, 9]);
      return opt.stepCount;
    });
  for (const bad of ['not json', '{"a":1}', '[-1]', '[1.5]', '["3"]', '[null]', '3']) {
    it(`rejects optimizer_steps ${bad}`, async () => {
      const esc = bad.replace(/[[\]{}().*+?^$|\\]/g, '\\$&');
      await expect(restore(bad)).rejects.toThrow(
        new RegExp(
          `^run/ckpt\\.safetensors: metadata optimizer_steps is '${esc}', not a JSON array of non-negative integer step counts`,
        ),
      );
    });
  }
  it('rejects a step count for the wrong number of optimizers', async () => {
    await expect(restore('[1, 2]')).rejects.toThrow(
      /^run\/ckpt\.safetensors: optimizer state for 2 optimizers, this model has 1/,
    );
  });
  it('accepts [12]', async () => {
    // Adam's slots are missing from this file, so loadState starts them fresh at that step count.
    expect(await restore('[12]')).toBe(12);
  });
});
