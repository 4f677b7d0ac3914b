#!/usr/bin/env python3
# Writes test/fixtures/torch_layers.json: PyTorch's layer_norm, group_norm, var, std and max_pool2d
# (values, and for max_pool2d the input gradient of sum(y * r)), and the losses with their options
# (cross_entropy with weight, ignore_index, label_smoothing, extra dims and probabilities; nll_loss;
# binary cross-entropy with weight and pos_weight; mse and l1 broadcasting) with their input gradients,
# and gather, index_select, cumsum and max / min along a dim with theirs, on deterministic inputs of odd
# shapes (float32, CPU), which test/torch_layers.test.ts checks both backends against.
#
#   apt-get install python3-torch && /usr/bin/python3 scripts/torch_layers.py
import json
import math
import os
import torch
import torch.nn.functional as F


def data(shape, seed):
    n = math.prod(shape)
    return torch.tensor([math.sin(seed * 12.9898 + i * 78.233) * 3 + (i % 7) * 0.25 for i in range(n)], dtype=torch.float32).reshape(shape)


cases = []


def enc(vs):
    # JSON has no NaN or Infinity: they are written as strings (test/torch_layers.test.ts decodes them).
    return ['nan' if math.isnan(v) else ('inf' if v > 0 else '-inf') if math.isinf(v) else v for v in vs]


def case(op, args, out, params=None):
    cases.append({'op': op, 'args': {k: {'shape': list(v.shape), 'data': v.flatten().tolist()} for k, v in args.items()},
                  'params': params or {}, 'expect': out.flatten().tolist(), 'shape': list(out.shape)})


x = data([3, 5, 7], 1)
w, b = data([5, 7], 2), data([5, 7], 3)
case('layer_norm', {'x': x, 'w': w, 'b': b}, F.layer_norm(x, [5, 7], w, b, eps=1e-5), {'shape': [5, 7], 'eps': 1e-5})
x2 = data([4, 9], 4)
case('layer_norm', {'x': x2}, F.layer_norm(x2, [9], eps=1e-3), {'shape': [9], 'eps': 1e-3})
x3 = data([2, 6, 5, 3], 5)
w3, b3 = data([6], 6), data([6], 7)
case('group_norm', {'x': x3, 'w': w3, 'b': b3}, F.group_norm(x3, 3, w3, b3, eps=1e-5), {'groups': 3, 'eps': 1e-5})
x4 = data([3, 4, 7], 8)
case('group_norm', {'x': x4}, F.group_norm(x4, 4, eps=1e-5), {'groups': 4, 'eps': 1e-5})
x5 = data([5, 6, 7], 9)
for dims, unbiased in [([1], True), ([0, 2], False), (None, True), ([2], False)]:
    for name, fn in [('var', torch.var), ('std', torch.std)]:
        out = fn(x5, unbiased=unbiased) if dims is None else fn(x5, dims, unbiased=unbiased)
        case(name, {'x': x5}, out, {'dims': dims, 'unbiased': unbiased})

# max_pool2d on values quantized to quarters, so windows hold ties (PyTorch sends the gradient to the
# first maximum), and a NaN and an Inf; with the gradient of sum(y * r) for a fixed r.
for shape, kernel, opts in [
    ([2, 3, 7, 6], 2, {}),
    ([2, 3, 7, 6], 3, {'stride': 2, 'padding': 1}),
    ([1, 2, 9, 8], [3, 2], {'stride': [2, 1], 'dilation': [2, 1]}),
    ([1, 2, 7, 7], 3, {'stride': 2, 'ceil_mode': True}),
    ([2, 1, 6, 5], 2, {'stride': 1, 'padding': 1, 'ceil_mode': True}),
]:
    xq = torch.round(data(shape, len(cases)) * 2) / 4
    xq.view(-1)[5] = float('nan')
    xq.view(-1)[17] = float('inf')
    xq.requires_grad_(True)
    y = F.max_pool2d(xq, kernel, **opts)
    r = data(list(y.shape), 99)
    (y.nan_to_num(0.0, 0.0, 0.0) * r).sum().backward()
    cases.append({'op': 'max_pool2d', 'args': {'x': {'shape': shape, 'data': enc(xq.detach().flatten().tolist())},
                                               'r': {'shape': list(y.shape), 'data': r.flatten().tolist()}},
                  'params': {'kernel': kernel, **opts}, 'expect': enc(y.detach().flatten().tolist()),
                  'shape': list(y.shape), 'grad': xq.grad.flatten().tolist()})

# Losses with options, and indexing: the value and the input gradient of sum(y * r) (r fixed, y the
# output; for a scalar output, of y). Index tensors are written as floats (this runtime's index dtype).
def graded(op, inputs, fn, params, grad_of='x'):
    args = {k: v.detach().clone() for k, v in inputs.items()}
    x = args[grad_of].requires_grad_(True)
    y = fn(**args)
    r = data(list(y.shape), 98) if y.dim() else torch.tensor(1.0)
    (y * r).sum().backward()
    cases.append({'op': op, 'args': {k: {'shape': list(v.shape), 'data': enc(v.detach().float().flatten().tolist())} for k, v in args.items()}
                  | ({'r': {'shape': list(y.shape), 'data': r.flatten().tolist()}} if y.dim() else {}),
                  'params': params, 'expect': enc(y.detach().flatten().tolist()), 'shape': list(y.shape), 'grad': x.grad.flatten().tolist(),
                  'grad_of': grad_of})


logits = data([6, 5], 20)
labels = torch.tensor([4, 0, 2, -100, 1, 2])
cw = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5])
for reduction in ['mean', 'sum', 'none']:
    for opts in [{}, {'weight': cw}, {'ignore_index': -100}, {'label_smoothing': 0.2}, {'weight': cw, 'ignore_index': 2, 'label_smoothing': 0.1}]:
        t = labels if 'ignore_index' in opts and opts['ignore_index'] == -100 else labels.clamp(min=0)
        kw = {k: v for k, v in opts.items() if k != 'weight'}
        ins = {'x': logits, 't': t.float()} | ({'w': opts['weight']} if 'weight' in opts else {})
        graded('cross_entropy', ins, lambda x, t, w=None: F.cross_entropy(x, t.long(), weight=w, reduction=reduction, **kw), {'reduction': reduction, **kw})
        graded('nll_loss', ins, lambda x, t, w=None: F.nll_loss(x.log_softmax(1), t.long(), weight=w, reduction=reduction, **{k: v for k, v in kw.items() if k != 'label_smoothing'}),
               {'reduction': reduction, **{k: v for k, v in kw.items() if k != 'label_smoothing'}})
# [N, C, d1, d2] with per-pixel labels; probabilities as targets; unbatched [C].
x4d, t4d = data([2, 4, 3, 2], 21), torch.tensor([[[0, 3], [1, -100], [2, 2]], [[3, 3], [0, 1], [-100, 0]]])
graded('cross_entropy', {'x': x4d, 't': t4d.float(), 'w': cw[:4]}, lambda x, t, w: F.cross_entropy(x, t.long(), weight=w, label_smoothing=0.05), {'reduction': 'mean', 'label_smoothing': 0.05})
graded('cross_entropy', {'x': x4d, 't': t4d.float()}, lambda x, t: F.cross_entropy(x, t.long(), reduction='none'), {'reduction': 'none'})
probs = data([6, 5], 22).softmax(1)
graded('cross_entropy', {'x': logits, 't': probs, 'w': cw}, lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.3), {'reduction': 'mean', 'label_smoothing': 0.3})
graded('cross_entropy', {'x': data([5], 23), 't': torch.tensor(3.0)}, lambda x, t: F.cross_entropy(x, t.long()), {'reduction': 'mean'})
# Binary cross-entropy with weight and pos_weight; mse and l1 broadcasting.
z, tz = data([4, 3], 24), (data([4, 3], 25) > 0).float() * 0.9 + 0.05
bw, pw = data([3], 26).abs(), torch.tensor([0.5, 2.0, 3.0])
graded('bce_with_logits', {'x': z, 't': tz, 'w': bw, 'pw': pw}, lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw), {'reduction': 'mean'})
graded('bce_with_logits', {'x': z, 't': tz, 'pw': pw}, lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction='none'), {'reduction': 'none'})
graded('bce', {'x': z.sigmoid(), 't': tz, 'w': bw}, lambda x, t, w: F.binary_cross_entropy(x, t, weight=w, reduction='sum'), {'reduction': 'sum'})
with __import__('warnings').catch_warnings():
    __import__('warnings').simplefilter('ignore')
    graded('mse', {'x': data([4, 1, 3], 27), 't': data([5, 3], 28)}, lambda x, t: F.mse_loss(x, t), {'reduction': 'mean'})
    graded('l1', {'x': data([4, 3], 29), 't': data([3], 30)}, lambda x, t: F.l1_loss(x, t, reduction='none'), {'reduction': 'none'})
# gather (repeated positions), index_select, cumsum, max / min along a dim (ties, a NaN).
xg = data([3, 5, 4], 31)
ig = torch.tensor([[[(i * 7 + j * 3 + k) % 5 for k in range(4)] for j in range(6)] for i in range(2)])
graded('gather', {'x': xg, 'i': ig.float()}, lambda x, i: torch.gather(x, 1, i.long()), {'dim': 1})
graded('index_select', {'x': xg, 'i': torch.tensor([3.0, 0, 3, 1])}, lambda x, i: torch.index_select(x, 2, i.long()), {'dim': 2})
graded('cumsum', {'x': data([3, 7, 2], 32)}, lambda x: torch.cumsum(x, 1), {'dim': 1})
xm = torch.round(data([4, 6], 33) * 2) / 2
xm[2, 3] = float('nan')
for name, fn in [('max', torch.max), ('min', torch.min)]:
    for dim, keep in [(1, False), (0, True)]:
        graded(name, {'x': xm}, lambda x: fn(x, dim, keepdim=keep).values, {'dim': dim, 'keepdim': keep})
        cases[-1]['indices'] = fn(xm, dim, keepdim=keep).indices.float().flatten().tolist()

# Interpolation, average pooling with tuples and ceil mode, grouped / depthwise convolutions and
# padding 'same' / 'valid', grouped transposed convolutions: values and input (or weight) gradients.
xi = data([2, 3, 5, 7], 40)
for kw in [{'size': [9, 4], 'mode': 'bilinear', 'align_corners': False}, {'size': [9, 4], 'mode': 'bilinear', 'align_corners': True},
           {'scale_factor': 1.5, 'mode': 'bilinear', 'align_corners': False}, {'scale_factor': [2.0, 0.5], 'mode': 'nearest'},
           {'size': [8, 11], 'mode': 'nearest'}, {'size': [1, 1], 'mode': 'bilinear', 'align_corners': True}]:
    graded('interpolate', {'x': xi}, lambda x: F.interpolate(x, **kw), kw)
for kernel, kw in [([3, 2], {'stride': [2, 1], 'padding': [1, 0]}), (3, {'stride': 2, 'ceil_mode': True}),
                   (3, {'stride': 2, 'padding': 1, 'ceil_mode': True}), (3, {'stride': 2, 'padding': 1, 'ceil_mode': True, 'count_include_pad': False}),
                   ([2, 3], {'stride': [1, 2], 'padding': [1, 1], 'count_include_pad': False})]:
    graded('avg_pool2d', {'x': data([2, 2, 7, 8], 41)}, lambda x: F.avg_pool2d(x, kernel, **kw), {'kernel': kernel, **kw})
xc = data([2, 6, 7, 5], 42)
for w_shape, kw in [([4, 3, 3, 2], {'groups': 2, 'stride': [2, 1], 'padding': 1}), ([6, 1, 3, 3], {'groups': 6, 'padding': 1}),
                    ([12, 2, 2, 3], {'groups': 3, 'dilation': [2, 1]}), ([5, 6, 4, 3], {'padding': 'same'}),
                    ([5, 6, 3, 3], {'padding': 'same', 'dilation': 2}), ([6, 2, 2, 2], {'groups': 3, 'padding': 'same'}),
                    ([5, 6, 3, 2], {'padding': 'valid'})]:
    wc, bc = data(w_shape, 43) * 0.3, data([w_shape[0]], 44)
    for g in ['x', 'w']:
        graded('conv2d', {'x': xc, 'w': wc, 'b': bc}, lambda x, w, b: F.conv2d(x, w, b, **kw), kw, grad_of=g)
xt = data([2, 4, 4, 3], 45)
for w_shape, kw in [([4, 3, 3, 3], {'groups': 2, 'stride': 2, 'padding': 1, 'output_padding': 1}), ([4, 1, 2, 2], {'groups': 4, 'stride': 2})]:
    wt, bt = data(w_shape, 46) * 0.3, data([w_shape[1] * kw['groups']], 47)
    for g in ['x', 'w']:
        graded('conv_transpose2d', {'x': xt, 'w': wt, 'b': bt}, lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), kw, grad_of=g)

path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'torch_layers.json')
with open(path, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f, allow_nan=False)
print(f'wrote {len(cases)} cases to {os.path.normpath(path)} (PyTorch {torch.__version__})')
