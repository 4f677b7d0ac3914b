#!/usr/bin/env python3
# Writes test/fixtures/schedulers.json: the learning rates PyTorch's schedulers give, step by step
# (torch.optim.lr_scheduler), which test/schedulers.test.ts checks src/nn/schedulers.ts against.
#
#   apt-get install python3-torch && /usr/bin/python3 scripts/schedulers.py
import json
import os
import torch
from torch.optim import lr_scheduler as S

STEPS = 25


def run(make, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(STEPS):
        out.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    return out


CASES = {
    'step': (lambda o: S.StepLR(o, step_size=4, gamma=0.5), {'stepSize': 4, 'gamma': 0.5}),
    'exponential': (lambda o: S.ExponentialLR(o, gamma=0.9), {'gamma': 0.9}),
    'cosine': (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), {'tMax': 10, 'etaMin': 0.001}),
    'linear': (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8), {'startFactor': 0.25, 'endFactor': 1.0, 'totalIters': 8}),
    'one_cycle': (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS), {'maxLr': 0.5, 'totalSteps': STEPS}),
    'one_cycle_linear': (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, pct_start=0.4, anneal_strategy='linear',
                                               div_factor=10, final_div_factor=100),
                         {'maxLr': 0.5, 'totalSteps': STEPS, 'pctStart': 0.4, 'annealStrategy': 'linear', 'divFactor': 10, 'finalDivFactor': 100}),
}
out = {'torch': torch.__version__, 'lr': 0.1, 'cases': {k: {'options': o, 'lrs': run(m)} for k, (m, o) in CASES.items()}}
path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'schedulers.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=1)
print(f'wrote {len(CASES)} schedulers to {os.path.normpath(path)} (PyTorch {torch.__version__})')
