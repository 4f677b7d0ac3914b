// Binary ops on vec4s: binary_op, the switch over the op codes that the contiguous and the broadcasting
// binary kernels and the fused elementwise kernels (src/backend/webgpu/fused.ts) call, is generated from
// the rows of src/backend/elementwise_table.ts (one WGSL expression each) and appended here by the shader
// loader; the functions those expressions call live in common.wgsl (div_ieee, pow_torch).

// NaN on the bits (common.wgsl): maximum and minimum propagate it (WGSL's max and min need not), and
// every comparison with a NaN is false but ne, which is true, as IEEE 754 and PyTorch have it.
