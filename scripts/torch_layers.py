#!/usr/bin/env python3
# Writes test/fixtures/torch_layers.json: PyTorch's layer_norm, group_norm, var, std and max_pool2d
# (values, and for max_pool2d the input gradient of sum(y * r)) on deterministic inputs of odd shapes
# (float32, CPU), which test/torch_layers.test.ts checks both backends against.
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

path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'torch_layers.json')
with open(path, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f, allow_nan=False)
print(f'wrote {len(cases)} cases to {os.path.normpath(path)} (PyTorch {torch.__version__})')
