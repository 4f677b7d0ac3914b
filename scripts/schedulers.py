#!/usr/bin/env python3
# Writes test/fixtures/schedulers.json: the learning rates PyTorch's schedulers give, step by step
# (torch.optim.lr_scheduler), which test/schedulers.test.ts checks src/nn/schedulers.ts against: the
# rate before each of STEPS rounds of opt.step(); sched.step() and after the last (OneCycleLR's
# total_steps rounds end there: one more sched.step() raises), and OneCycleLR's momentum (SGD's
# momentum, Adam's beta1) alongside.
#
#   apt-get install python3-torch && /usr/bin/python3 scripts/schedulers.py
import json
import os
import torch
from torch.optim import lr_scheduler as S

STEPS = 25


def momentum(opt):
    g = opt.param_groups[0]
    return g['betas'][0] if 'betas' in g else g['momentum']


def run(make, lr=0.1, optim='sgd'):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr) if optim == 'sgd' else torch.optim.Adam([p], lr=lr)
    sched = make(opt)
    lrs, moms = [], []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]['lr'])
        moms.append(momentum(opt))
        opt.step()
        sched.step()
    lrs.append(opt.param_groups[0]['lr'])
    moms.append(momentum(opt))
    out = {'lrs': lrs, 'optimizer': optim}
    if isinstance(sched, S.OneCycleLR):
        out['momentums'] = moms
        try:
            sched.step()
            out['past_end'] = None
        except ValueError as e:
            out['past_end'] = str(e)
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
    'one_cycle_momentum': (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, base_momentum=0.8, max_momentum=0.9),
                           {'maxLr': 0.5, 'totalSteps': STEPS, 'baseMomentum': 0.8, 'maxMomentum': 0.9}),
    'one_cycle_no_momentum': (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, cycle_momentum=False),
                              {'maxLr': 0.5, 'totalSteps': STEPS, 'cycleMomentum': False}),
}
# Adam: the momentum that OneCycleLR cycles is beta1.
ADAM = {'one_cycle_adam': (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, pct_start=0.25, anneal_strategy='linear'),
                           {'maxLr': 0.5, 'totalSteps': STEPS, 'pctStart': 0.25, 'annealStrategy': 'linear'})}
cases = {k: {'options': o, **run(m)} for k, (m, o) in CASES.items()}
cases.update({k: {'options': o, **run(m, optim='adam')} for k, (m, o) in ADAM.items()})
out = {'torch': torch.__version__, 'lr': 0.1, 'cases': cases}
path = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'schedulers.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=1)
print(f'wrote {len(cases)} schedulers to {os.path.normpath(path)} (PyTorch {torch.__version__})')
