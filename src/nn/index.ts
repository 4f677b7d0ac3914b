// torch.nn for this runtime: modules, layers, initializers and optimizers.
export { Module, type AnyModule, type StateDict, type StateValue } from './module.ts';
export {
  Linear,
  Conv2d,
  ConvTranspose2d,
  BatchNorm2d,
  InstanceNorm2d,
  LayerNorm,
  GroupNorm,
  ReLU,
  LeakyReLU,
  GELU,
  SiLU,
  ELU,
  Softplus,
  Tanh,
  Sigmoid,
  Flatten,
  Unflatten,
  AvgPool2d,
  MaxPool2d,
  Upsample,
  Dropout,
  Dropout2d,
  MSELoss,
  L1Loss,
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  NLLLoss,
  Embedding,
  type EmbeddingOptions,
  type LayerOptions,
  type ConvLayerOptions,
  type LayerNormOptions,
  type GroupNormOptions,
  Sequential,
  ModuleList,
  ModuleDict,
} from './layers.ts';
/**
 * Parameter initializers with torch.nn.init's formulas (Kaiming, Xavier, constant), each returning a
 * new tensor; the layers already start as PyTorch's do.
 */
export * as init from './init.ts';
export {
  Optimizer,
  SGD,
  Adam,
  AdamW,
  type SGDOptions,
  type AdamOptions,
  type ParamGroup,
  type OptimizerParams,
  type OptimizerStateDict,
  type OptimizerStateValue,
} from './optim.ts';
export { clipGradNorm_, clipGradValue_, type GradNormType } from './clip.ts';
export {
  LRScheduler,
  StepLR,
  ExponentialLR,
  CosineAnnealingLR,
  LinearLR,
  OneCycleLR,
  type OneCycleOptions,
  type AnnealStrategy,
} from './schedulers.ts';
export { summary, type SummaryRow } from './summary.ts';
