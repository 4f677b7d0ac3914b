// Saving and loading, in the browser and in Node: safetensors bytes (the format PyTorch's `safetensors`
// reads), a model's and its optimizers' state as named arrays (the CLI's checkpoint format), loss curves
// as SVG text. `wgpu-gen/io` in Node adds the files (src/io/node.ts).
export { encodeSafetensors, decodeSafetensors, type NamedArray } from './safetensors.ts';
export { checkpointTensors, restoreCheckpoint } from './checkpoint.ts';
export { lossCurveSvg, scatterSvg, niceTicks, type Series } from './plot.ts';
