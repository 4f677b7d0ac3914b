#!/usr/bin/env python3
# Writes test/fixtures/special_values.json: PyTorch's results (float32, CPU) for every op of the kernel
# vocabulary (src/backend/kernels.ts) and the losses, optimizers, matmul and conv built on them, on the
# special values NaN, +-Inf, +-0, subnormals, +-1 and magnitudes near overflow and underflow.
# test/special_values.test.ts runs the same cases on both backends and compares.
#
#   apt-get install python3-torch && /usr/bin/python3 scripts/special_values.py
#
# Run with Debian's PyTorch 1.13 (the one the project's tests may install): the fixture records the
# version. Subnormal inputs also get the result PyTorch gives for them flushed to a zero of the same sign
# ("flushed"), since WGSL lets an implementation flush subnormals (WGSL spec, "Floating Point
# Evaluation": "Implementations may assume that subnormals are flushed to zero"); the test accepts either.
import json
import math
import os
import subprocess
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
NAN, INF = float('nan'), float('inf')
TINY = 1e-40  # a float32 subnormal (the smallest normal is 2^-126 ~ 1.18e-38)
SPECIALS = [NAN, INF, -INF, 0.0, -0.0, TINY, -TINY, 1.0, -1.0, 0.5, -2.5, 3.0, 88.8, -104.0, 3e38, -3e38]
# The binary ops take every pair of these (144 pairs).
PAIR_VALUES = [NAN, INF, -INF, 0.0, -0.0, TINY, 1.0, -1.0, 0.5, -2.5, 2.0, 3e38]


def enc(v):
    v = float(v)
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    if v == 0 and math.copysign(1, v) < 0:
        return '-0'
    return v


def t(values):
    return torch.tensor(values, dtype=torch.float32)


def flush(x):
    """x with subnormals replaced by zeros of the same sign (what a flushing device sees or writes)."""
    tiny = (x != 0) & (x.abs() < 2.0 ** -126)
    return torch.where(tiny, torch.copysign(torch.zeros_like(x), x), x)


def values(x):
    return [enc(v) for v in x.reshape(-1).tolist()]


cases = []


def case(op, fn, args, params=None, shape=None):
    """fn maps the float32 input tensors to the output; 'flushed' is fn of the flushed inputs, flushed."""
    ins = {k: t(v) if shape is None else t(v).reshape(shape[k]) for k, v in args.items()}
    out = fn(**ins)
    flushed = flush(fn(**{k: flush(v) for k, v in ins.items()}))
    c = {'op': op, 'args': {k: values(v) for k, v in ins.items()}, 'expect': values(out)}
    if shape is not None:
        c['shape'] = shape
    if params is not None:
        c['params'] = params
    if values(flushed) != c['expect']:
        c['flushed'] = values(flushed)
    cases.append(c)


# ---- the elementwise ops: the rows of src/backend/elementwise_table.ts, each with its `torch` expression
# (and a unary op's parameter sets, `special`), read through scripts/elementwise_rows.ts ----------------
ROWS = json.loads(subprocess.run(['npx', 'tsx', 'scripts/elementwise_rows.ts'], check=True, capture_output=True,
                                 text=True, cwd=os.path.join(os.path.dirname(__file__), '..')).stdout)


def torch_op(expr, **params):
    """The row's PyTorch expression as a function of its tensors (x; a, b; c, a, b)."""
    return lambda **ts: eval(expr, {'torch': torch, 'F': F, **params}, ts)


for name, row in ROWS['unary'].items():
    for p0, p1 in row['special']:
        p0, p1 = float(p0), float(p1)
        fn = torch_op(row['torch'], p0=p0, p1=p1)
        case(f'unary:{name}', lambda a, fn=fn: fn(x=a), {'a': SPECIALS}, [p0, p1])
# erf on a grid across both of its approximations' ranges (the series below 0.5, erfc above).
GRID = [i / 8 for i in range(-40, 41)] + [1e-3, -1e-3, 0.4999, 0.5001, 9.0, -12.0]
row_op = lambda name: (lambda a, fn=torch_op(ROWS['unary'][name]['torch'], p0=0.0, p1=0.0): fn(x=a))
case('unary:erf', row_op('erf'), {'a': GRID}, [0, 0])
# log1p and expm1 near 0 and where their kernels switch formulas (1 + x at sqrt(1/2) and sqrt(2); |x| = 0.5).
NEAR0 = [1e-7, -1e-7, 1e-4, -3e-4, 0.2928, -0.2929, 0.4142, 0.4143, 0.4999, 0.5, -0.5, -0.5001, 2.0, -0.9999, 20.0, -20.0]
case('unary:log1p', row_op('log1p'), {'a': NEAR0}, [0, 0])
case('unary:expm1', row_op('expm1'), {'a': NEAR0}, [0, 0])

# ---- activations composed from the ops (src/ops/functional.ts) ----------------------------------------
ACT = SPECIALS + GRID
case('gelu', lambda a: F.gelu(a), {'a': ACT})
case('gelu_tanh', lambda a: F.gelu(a, approximate='tanh'), {'a': ACT})
case('silu', lambda a: F.silu(a), {'a': ACT})
case('elu', lambda a: F.elu(a, alpha=1.3), {'a': ACT}, [1.3, 0])
case('softplus', lambda a: F.softplus(a, beta=2.0, threshold=3.0), {'a': ACT}, [2.0, 3.0])

# ---- binary ops (the rows of BINARY in src/backend/elementwise_table.ts): every pair --------------------
A = [a for a in PAIR_VALUES for _ in PAIR_VALUES]
B = [b for _ in PAIR_VALUES for b in PAIR_VALUES]
for name, row in ROWS['binary'].items():
    fn = torch_op(row['torch'])
    case(f'binary:{name}', lambda a, b, fn=fn: fn(a=a, b=b), {'a': A, 'b': B})
# ---- ternary: where (a condition is true where it is nonzero, NaN included, as torch's bool()) and fma ---
C3 = [NAN, 0.0, -0.0, 1.0, INF, TINY]
X3 = [NAN, INF, 1.0, -2.0, 0.0, -INF]
Y3 = [2.0, -INF, NAN, 0.5, -0.0, 3e38]
C = [c for c in C3 for _ in X3]
X = [x for _ in C3 for x in X3]
Y = [Y3[(i + j) % len(Y3)] for i in range(len(C3)) for j in range(len(X3))]
for name, row in ROWS['ternary'].items():
    fn = torch_op(row['torch'])
    case(name, lambda c, a, b, fn=fn: fn(c=c, a=a, b=b), {'c': C, 'a': X, 'b': Y})

# ---- reductions over rows ----------------------------------------------------------------------------
ROWS = [
    [1.0, NAN, 3.0, -2.0], [NAN, 1.0, 2.0, NAN], [1.0, 3.0, -2.0, 3.0], [INF, 1.0, -INF, 2.0],
    [-INF, -INF, -INF, -INF], [INF, 5.0, INF, 1.0], [-0.0, 0.0, -0.0, 0.0], [3e38, 3e38, -1.0, 1.0],
    [TINY, -TINY, TINY, 0.0], [-1.0, -3.0, NAN, INF],
]
flat = [v for r in ROWS for v in r]
shape = {'a': [len(ROWS), 4]}
case('reduce:sum', lambda a: a.sum(1), {'a': flat}, shape=shape)
case('reduce:max', lambda a: a.amax(1), {'a': flat}, shape=shape)
case('reduce:min', lambda a: a.amin(1), {'a': flat}, shape=shape)
case('reduce:argmax', lambda a: a.argmax(1).float(), {'a': flat}, shape=shape)
case('reduce:argmin', lambda a: a.argmin(1).float(), {'a': flat}, shape=shape)
case('mean', lambda a: a.mean(1), {'a': flat}, shape=shape)
case('logsumexp', lambda a: torch.logsumexp(a, 1), {'a': flat}, shape=shape)
case('softmax', lambda a: torch.softmax(a, 1), {'a': flat}, shape=shape)
case('log_softmax', lambda a: torch.log_softmax(a, 1), {'a': flat}, shape=shape)
# Long rows (past one reduction chunk, so the two-pass path runs): a NaN or an Inf anywhere in the row.
LONG = 1000
long_rows = []
for pos, v in [(7, NAN), (999, NAN), (500, INF), (3, -INF), (None, None)]:
    row = [((i * 37) % 11 - 5) / 4 for i in range(LONG)]
    if pos is not None:
        row[pos] = v
    long_rows.append(row)
long_rows.append([INF if i == 10 else -INF if i == 900 else 1.0 for i in range(LONG)])
lflat = [v for r in long_rows for v in r]
lshape = {'a': [len(long_rows), LONG]}
for r in ['sum', 'max', 'min', 'argmax', 'argmin']:
    fn = {'sum': lambda a: a.sum(1), 'max': lambda a: a.amax(1), 'min': lambda a: a.amin(1),
          'argmax': lambda a: a.argmax(1).float(), 'argmin': lambda a: a.argmin(1).float()}[r]
    case(f'reduce:{r}', fn, {'a': lflat}, shape=lshape)

# ---- losses (mean reduction over a batch of rows of specials) -----------------------------------------
LOGITS = [NAN, INF, -INF, 0.0, 200.0, -200.0, 1.0, -3e38]
TARGET = [1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.0]
for i, (x, y) in enumerate(zip(LOGITS, TARGET)):
    case('bce_with_logits', lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction='none'), {'a': [x], 'b': [y]})
    case('mse', lambda a, b: F.mse_loss(a, b, reduction='none'), {'a': [x], 'b': [y]})
    case('l1', lambda a, b: F.l1_loss(a, b, reduction='none'), {'a': [x], 'b': [y]})
case('bce_with_logits_mean', lambda a, b: F.binary_cross_entropy_with_logits(a, b).reshape(1), {'a': LOGITS, 'b': TARGET})
CE_LOGITS = [[1.0, NAN, 0.0], [INF, 1.0, 0.0], [-INF, 1.0, 0.0], [1.0, 2.0, 3.0], [3e38, 0.0, -3e38]]
CE_LABELS = [0.0, 0.0, 0.0, 2.0, 1.0]
for row, lab in zip(CE_LOGITS, CE_LABELS):
    case('cross_entropy', lambda a, b: F.cross_entropy(a, b.long(), reduction='none'), {'a': row, 'b': [lab]},
         shape={'a': [1, 3], 'b': [1]})

# ---- matmul and conv2d: a NaN or an Inf reaches exactly the outputs that read it -----------------------
MA = [[1.0, 2.0, NAN], [0.5, -1.0, 2.0], [INF, 1.0, 0.0], [1.0, 1.0, 1.0]]
MB = [[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]]
case('matmul', lambda a, b: a @ b, {'a': [v for r in MA for v in r], 'b': [v for r in MB for v in r]},
     shape={'a': [4, 3], 'b': [3, 2]})
img = [((i * 7) % 5 - 2) / 2 for i in range(2 * 2 * 9 * 9)]
img[2 * 81 + 4 * 9 + 4] = NAN   # batch 1, channel 0, (4, 4)
img[0 * 81 + 1 * 9 + 7] = INF   # batch 0, channel 0, (1, 7)
wts = [((i * 5) % 7 - 3) / 3 for i in range(3 * 2 * 3 * 3)]
case('conv2d', lambda a, b: F.conv2d(a, b, stride=1, padding=1), {'a': img, 'b': wts},
     shape={'a': [2, 2, 9, 9], 'b': [3, 2, 3, 3]}, params=[1, 1])
# 4x4 stride 2 (the DCGAN's layers; every stride phase has 2x2 taps, so the Winograd variant applies).
wts4 = [((i * 5) % 7 - 3) / 3 for i in range(3 * 2 * 4 * 4)]
case('conv2d', lambda a, b: F.conv2d(a, b, stride=2, padding=1), {'a': img, 'b': wts4},
     shape={'a': [2, 2, 9, 9], 'b': [3, 2, 4, 4]}, params=[2, 1])

# ---- optimizers: one step on a parameter whose gradient holds specials --------------------------------
P0 = [1.0, -2.0, 0.5, 3.0, 0.0, 1.0, -1.0]
G0 = [NAN, INF, -INF, 0.0, 1e-30, 3e38, -0.0]


def adam(a, b):
    p = torch.nn.Parameter(a.clone())
    opt = torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    p.grad = b.clone()
    opt.step()
    return p.detach()


def sgd(a, b):
    p = torch.nn.Parameter(a.clone())
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    p.grad = b.clone()
    opt.step()
    return p.detach()


case('adam', adam, {'a': P0, 'b': G0})


def adamw(a, b):
    p = torch.nn.Parameter(a.clone())
    opt = torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    p.grad = b.clone()
    opt.step()
    return p.detach()


case('adamw', adamw, {'a': P0, 'b': G0})
case('sgd', sgd, {'a': P0, 'b': G0})
# Special parameters: without weight decay an infinite one stays infinite (no 0 * Inf term).
P1 = [INF, -INF, NAN, 1.0, 3e38, -0.0]
G1 = [1.0, -1.0, 1.0, 1e30, 1.0, 0.0]
case('adam', adam, {'a': P1, 'b': G1})
case('sgd', sgd, {'a': P1, 'b': G1})

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, '..', 'test', 'fixtures', 'special_values.json')
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f, separators=(',', ':'))
    f.write('\n')
print(f'wrote {len(cases)} cases to {os.path.normpath(out)} (PyTorch {torch.__version__})')
