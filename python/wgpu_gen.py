#!/usr/bin/env python3
"""PyTorch twins of wgpu-gen's models (src/models), with the same parameter names and layouts, so a
checkpoint trained in the browser or in Node loads here with a strict load_state_dict, and a state dict
trained here (on one machine, or under torchrun with several processes) loads back into wgpu-gen.

    python3 python/wgpu_gen.py eval  --ckpt run/ckpt.safetensors --inputs in.safetensors --out out.safetensors
    python3 python/wgpu_gen.py train --ckpt run/ckpt.safetensors --inputs in.safetensors --steps 5 --out trained.safetensors
    python3 python/wgpu_gen.py fit   --ckpt init.safetensors --inputs train.safetensors --epochs 30 --batch 128 --out twin.safetensors
    torchrun --nproc_per_node=2 python/wgpu_gen.py train ...   (the batch sharded, gradients averaged)

Checkpoints are safetensors files whose metadata holds `model` (vae, gan, dcgan, classifier, cyclegan,
rbm) and `config` (the JSON constructor options of src/cli/jobs.ts's buildModel). Only F32 tensors are read
and written; optimizer slots (`optim.*`) are left out, and BatchNorm's num_batches_tracked (which
wgpu-gen does not keep) is dropped on the way out and made 0 on the way in.

`eval` runs the model in eval mode on the inputs (tensors named x, y, z, eps, labels; which ones a model
reads is in `evaluate` below) and writes its outputs; `train` runs Adam steps on the model's training
objective over those inputs, with PyTorch's own random numbers, and writes the new weights with the
same metadata. `fit` trains the model over a training set (the inputs' tensors, one row per example) for
whole epochs as the CLI does (a fresh shuffle each epoch, full batches only, the remainder dropped, Adam
with the model's betas, the RBM's SGD with momentum; `--in-order`: a stream of fresh examples read once,
the 2-D sets' points), from the checkpoint's weights: the PyTorch twin of a CLI run started from the
same initial weights (scripts/quality_twin.ts); its per-epoch mean training losses go into the output's
metadata (`train_losses`).
"""
import argparse
import json
import os
import struct
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# ---- safetensors (https://github.com/huggingface/safetensors: an 8-byte little-endian header length,
# a JSON header of name -> dtype, shape, data_offsets, then the raw little-endian bytes) ----


def load_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop('__metadata__', {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info['dtype'] != 'F32':
            raise ValueError(f'{path}: {name} is {info["dtype"]}; only F32 tensors are read')
        lo, hi = info['data_offsets']
        t = torch.frombuffer(bytearray(raw[base + lo:base + hi]), dtype=torch.float32) if hi > lo else torch.zeros(0)
        tensors[name] = t.reshape(info['shape']).clone()
    return tensors, metadata


def save_safetensors(path, tensors, metadata):
    """Writes atomically (a temporary file renamed over the target), so a crash leaves no half file."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
    os.replace(tmp, path)


# ---- the models (src/models/*.ts; layer for layer, so the state dict keys are the same) ----


class MlpVAE(nn.Module):
    """src/models/vae.ts MlpVAE: 784-400-z (mu, logvar heads) and z-400-784, ReLU hidden layers."""

    def __init__(self, z_dim=20, hidden=400, input_dim=784):
        super().__init__()
        self.enc = nn.Linear(input_dim, hidden)
        self.mu = nn.Linear(hidden, z_dim)
        self.logvar = nn.Linear(hidden, z_dim)
        self.dec1 = nn.Linear(z_dim, hidden)
        self.dec2 = nn.Linear(hidden, input_dim)

    def encode(self, x):
        h = F.relu(self.enc(x.reshape(x.shape[0], -1)))
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec2(F.relu(self.dec1(z)))


class ConvVAE(nn.Module):
    """src/models/vae.ts ConvVAE: two stride-2 4x4 convs, linear heads; the decoder mirrors it."""

    def __init__(self, z_dim=20, width=16):
        super().__init__()
        c = self.c = width
        self.conv1 = nn.Conv2d(1, c, 4, 2, 1)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, 2, 1)
        self.mu = nn.Linear(2 * c * 49, z_dim)
        self.logvar = nn.Linear(2 * c * 49, z_dim)
        self.fc = nn.Linear(z_dim, 2 * c * 49)
        self.deconv1 = nn.ConvTranspose2d(2 * c, c, 4, 2, 1)
        self.deconv2 = nn.ConvTranspose2d(c, 1, 4, 2, 1)

    def encode(self, x):
        h = F.relu(self.conv2(F.relu(self.conv1(x.reshape(x.shape[0], 1, 28, 28))))).flatten(1)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = F.relu(self.fc(z)).reshape(z.shape[0], 2 * self.c, 7, 7)
        return self.deconv2(F.relu(self.deconv1(h))).reshape(z.shape[0], 784)


class MlpGAN(nn.Module):
    """src/models/gan.ts MlpGAN: G z-128-128-2 (ReLU), D 2-128-128-1 (leaky ReLU 0.2)."""

    def __init__(self, z_dim=2, hidden=128, data_dim=2, loss='nonsaturating', d_steps=1):
        super().__init__()
        self.z_dim, self.loss, self.d_steps = z_dim, loss, d_steps
        self.G = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, data_dim))
        self.D = nn.Sequential(nn.Linear(data_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))


class DCGAN(nn.Module):
    """src/models/dcgan.ts: G linear to 2w x 7 x 7, two stride-2 transposed convs; D two stride-2 convs."""

    def __init__(self, z_dim=64, width=32, loss='nonsaturating'):
        super().__init__()
        w = width
        self.z_dim, self.loss = z_dim, loss
        self.G = nn.Sequential(
            nn.Linear(z_dim, 2 * w * 49), nn.Unflatten(1, (2 * w, 7, 7)), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, 2, 1), nn.Tanh())
        self.D = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * w * 49, 1))


class Classifier(nn.Module):
    """src/models/classifier.ts: two conv-ReLU-avgpool stages, a hidden layer, class logits."""

    def __init__(self, width=32, hidden=128, classes=10):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(2 * w * 49, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x.reshape(x.shape[0], 1, 28, 28)))


class ResBlock(nn.Module):
    """src/models/cyclegan.ts ResBlock: x + IN(conv(ReLU(IN(conv(x)))))."""

    def __init__(self, ch):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.InstanceNorm2d(ch), nn.ReLU(),
                                   nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.InstanceNorm2d(ch))

    def forward(self, x):
        return x + self.block(x)


def resnet_generator(c, k, blocks):
    return nn.Sequential(
        nn.Conv2d(c, k, 7, padding=3, bias=False), nn.InstanceNorm2d(k), nn.ReLU(),
        nn.Conv2d(k, 2 * k, 3, stride=2, padding=1, bias=False), nn.InstanceNorm2d(2 * k), nn.ReLU(),
        *[ResBlock(2 * k) for _ in range(blocks)],
        nn.ConvTranspose2d(2 * k, k, 3, stride=2, padding=1, output_padding=1, bias=False), nn.InstanceNorm2d(k), nn.ReLU(),
        nn.Conv2d(k, c, 7, padding=3), nn.Tanh())


def patch_discriminator(c, k):
    return nn.Sequential(
        nn.Conv2d(c, k, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(k, 2 * k, 4, stride=2, padding=1, bias=False), nn.InstanceNorm2d(2 * k), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * k, 1, 3, padding=1))


class CycleGAN(nn.Module):
    """src/models/cyclegan.ts: G: X -> Y and F: Y -> X (ResNet generators), PatchGAN D_X and D_Y."""

    def __init__(self, width=16, res_blocks=2, channels=1, lam=10.0, identity=0.0):
        super().__init__()
        self.lam, self.identity = lam, identity
        self.G = resnet_generator(channels, width, res_blocks)
        self.F = resnet_generator(channels, width, res_blocks)
        self.D_X = patch_discriminator(channels, width)
        self.D_Y = patch_discriminator(channels, width)


class RBM(nn.Module):
    """src/models/rbm.ts: a Bernoulli RBM, W [visible, hidden] from N(0, 0.01), biases vbias and hbias;
    trained by CD-k or persistent CD (the persistent chains start as Bernoulli(0.5) states, one per
    example of the first batch), the update handed to SGD with momentum as the parameters' gradients."""

    def __init__(self, visible=784, hidden=500, k=1, chain='cd'):
        super().__init__()
        self.W = nn.Parameter(torch.randn(visible, hidden) * 0.01)
        self.vbias = nn.Parameter(torch.zeros(visible))
        self.hbias = nn.Parameter(torch.zeros(hidden))
        self.k, self.chain, self.persistent = k, chain, None

    def hidden_prob(self, v):
        return torch.sigmoid(v @ self.W + self.hbias)

    def visible_prob(self, h):
        return torch.sigmoid(h @ self.W.t() + self.vbias)

    def free_energy(self, v):
        return -(v @ self.vbias) - F.softplus(v @ self.W + self.hbias).sum(1)


def bernoulli(p):
    """0/1 with probability p (u < p, u uniform on [0, 1)), as src/models/rbm.ts bernoulli."""
    return (torch.rand_like(p) < p).to(p.dtype)


def build(model, config):
    """The model of a checkpoint's `model` and `config` metadata (src/cli/jobs.ts buildModel's defaults)."""
    c = config
    if model == 'vae':
        return ConvVAE(c.get('zDim', 20), c.get('width', 16)) if c.get('arch') == 'conv' else MlpVAE(c.get('zDim', 20))
    if model == 'gan':
        return MlpGAN(loss=c.get('loss', 'nonsaturating'), d_steps=c.get('dSteps', 1))
    if model == 'dcgan':
        return DCGAN(c.get('zDim', 64), c.get('width', 32), c.get('loss', 'nonsaturating'))
    if model == 'classifier':
        return Classifier(c.get('width', 32))
    if model == 'cyclegan':
        return CycleGAN(c.get('width', 16), c.get('resBlocks', 2), lam=c.get('lambda', 10.0), identity=c.get('identity', 0.0))
    if model == 'rbm':
        return RBM(hidden=c.get('width', 500), k=c.get('k', 1), chain=c.get('chain', 'cd'))
    raise ValueError(f'unknown model {model!r} (expected vae, gan, dcgan, classifier, cyclegan or rbm)')


# ---- what the test numbers are, and the training objectives (src/models' trainStep) ----


def evaluate(model, m, t):
    """The model's outputs in eval mode on the inputs `t` (images in [0, 1], as wgpu-gen's API takes them)."""
    m.eval()
    with torch.no_grad():
        if model == 'vae':
            mu, logvar = m.encode(t['x'])
            logits = m.decode(mu + torch.exp(0.5 * logvar) * t['eps'])
            x = t['x'].reshape(t['x'].shape[0], -1)
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(1).mean()
            kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
            return {'mu': mu, 'logvar': logvar, 'logits': logits, 'rec': rec, 'kl': kl}
        if model in ('gan', 'dcgan'):
            x = t['x'] if model == 'gan' else t['x'].reshape(-1, 1, 28, 28) * 2 - 1
            return {'fake': m.G(t['z']), 'real_logits': m.D(x), 'fake_logits': m.D(m.G(t['z']))}
        if model == 'classifier':
            logits = m(t['x'])
            return {'logits': logits, 'loss': F.cross_entropy(logits, t['labels'].long())}
        if model == 'cyclegan':
            x, y = t['x'] * 2 - 1, t['y'] * 2 - 1
            gx, fy = m.G(x), m.F(y)
            return {'gx': gx, 'fy': fy, 'fgx': m.F(gx), 'dx': m.D_X(x), 'dy': m.D_Y(y)}
        if model == 'rbm':
            v = t['x'].reshape(t['x'].shape[0], -1)
            return {'hidden': m.hidden_prob(v), 'free_energy': m.free_energy(v)}
    raise ValueError(f'unknown model {model!r}')


def objectives(model, m, t):
    """The steps of src/models' trainStep on the inputs `t`, in their order: (optimizer name, the
    parameters it updates, a function giving the step's loss). GANs: dSteps D steps (each on fresh fakes,
    the same real batch) then one G step; CycleGAN: G then D; PyTorch's noise. A loss that needs no
    backward pass (the RBM's: its update is not a gradient) has set the parameters' .grad itself."""
    bce = F.binary_cross_entropy_with_logits
    if model == 'vae':
        def elbo():
            mu, logvar = m.encode(t['x'])
            logits = m.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
            rec = bce(logits, t['x'].reshape(t['x'].shape[0], -1), reduction='none').sum(1).mean()
            return rec + (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
        return [('all', list(m.parameters()), elbo)]
    if model in ('gan', 'dcgan'):
        real = t['x'] if model == 'gan' else t['x'].reshape(-1, 1, 28, 28) * 2 - 1
        z = lambda: torch.randn(real.shape[0], m.z_dim)
        def d_loss():
            r, f = m.D(real), m.D(m.G(z()).detach())
            return bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        def g_loss():
            f = m.D(m.G(z()))
            # The non-saturating -log D(G(z)), or the saturating log(1 - D(G(z))) = -BCE(D(G(z)), 0).
            return -bce(f, torch.zeros_like(f)) if getattr(m, 'loss', 'nonsaturating') == 'saturating' else bce(f, torch.ones_like(f))
        d = [('D', list(m.D.parameters()), d_loss)] * getattr(m, 'd_steps', 1)
        return d + [('G', list(m.G.parameters()), g_loss)]
    if model == 'classifier':
        return [('all', list(m.parameters()), lambda: F.cross_entropy(m(t['x']), t['labels'].long()))]
    if model == 'cyclegan':
        x, y = t['x'] * 2 - 1, t['y'] * 2 - 1
        def g_loss():
            fake_y, fake_x = m.G(x), m.F(y)
            a, b = m.D_Y(fake_y), m.D_X(fake_x)
            gan = F.mse_loss(a, torch.ones_like(a)) + F.mse_loss(b, torch.ones_like(b))
            loss = gan + m.lam * (F.l1_loss(m.F(fake_y), x) + F.l1_loss(m.G(fake_x), y))
            if m.identity > 0:
                loss = loss + m.identity * m.lam * (F.l1_loss(m.G(y), y) + F.l1_loss(m.F(x), x))
            return loss
        def d_loss():
            fy, fx = m.G(x).detach(), m.F(y).detach()
            terms = [(m.D_Y(y), 1), (m.D_Y(fy), 0), (m.D_X(x), 1), (m.D_X(fx), 0)]
            return 0.5 * sum(F.mse_loss(o, torch.full_like(o, v)) for o, v in terms)
        return [('G', [*m.G.parameters(), *m.F.parameters()], g_loss), ('D', [*m.D_X.parameters(), *m.D_Y.parameters()], d_loss)]
    if model == 'rbm':
        def cd():
            # src/models/rbm.ts trainStep and cdGradients: the batch binarized by sampling, k Gibbs steps
            # from it (CD-k) or from the persistent chains (PCD), hidden statistics as probabilities,
            # the gradients minus the statistics' difference; returns the one-step reconstruction error.
            with torch.no_grad():
                v0 = bernoulli(t['x'].reshape(t['x'].shape[0], -1))
                n = v0.shape[0]
                ph0 = m.hidden_prob(v0)
                if m.chain == 'pcd' and m.persistent is None:
                    m.persistent = bernoulli(torch.full_like(v0, 0.5))
                v = m.persistent if m.chain == 'pcd' else v0
                for _ in range(m.k):
                    v = bernoulli(m.visible_prob(bernoulli(m.hidden_prob(v))))
                phk = m.hidden_prob(v)
                m.W.grad = -(v0.t() @ ph0 / n - v.t() @ phk / v.shape[0])
                m.vbias.grad = -(v0.mean(0) - v.mean(0))
                m.hbias.grad = -(ph0.mean(0) - phk.mean(0))
                if m.chain == 'pcd':
                    m.persistent = v
                return ((m.visible_prob(ph0) - v0) ** 2).sum(1).mean()
        return [('all', list(m.parameters()), cd)]
    raise ValueError(f'unknown model {model!r}')


def optimizer(model, name, params, lr, config):
    """The optimizer of src/models: SGD with the RBM's momentum (0.5) for the RBM; otherwise Adam with the
    model's betas, the GANs' D at their lrD where the config has one (TTUR)."""
    if model == 'rbm':
        return torch.optim.SGD(params, lr=lr, momentum=config.get('momentum', 0.5), weight_decay=config.get('weightDecay', 0.0))
    if name == 'D' and model in ('gan', 'dcgan') and 'lrD' in config:
        lr = config['lrD']
    return torch.optim.Adam(params, lr=lr, betas=adam_betas(model))


def adam_betas(model):
    """The betas of the model's Adam in src/models (the GANs and the CycleGAN: 0.5, as in DCGAN's paper)."""
    return (0.9, 0.999) if model in ('vae', 'classifier') else (0.5, 0.999)


def fit(model, m, data, epochs, batch, lr, seed=0, log=print, config=None, in_order=False):
    """Whole epochs of steps of the model's objectives over `data` (a dict of tensors, one row per
    example): each epoch a fresh permutation from a torch.Generator seeded `seed`, floor(n / batch) full
    batches (the remainder dropped, as the CLI's Batches), one step of each objective per batch; or, with
    `in_order`, a stream read once in its order (the CLI's 2-D sets: fresh points every step), floor(n /
    (epochs * batch)) batches an epoch. The optimizers are those of `optimizer` (PyTorch's defaults
    otherwise: Adam's eps 1e-8), the noise from torch's global generator. Returns the per-epoch means of
    the first objective's loss (its last step's where it runs several times a batch)."""
    config = config or {}
    n = next(iter(data.values())).shape[0]
    per_epoch = n // (batch * epochs) if in_order else n // batch
    if batch < 1 or per_epoch < 1:
        raise ValueError(f'fit: {n} examples make no full batch of {batch}' + (f' in each of {epochs} epochs' if in_order else ''))
    order = torch.Generator().manual_seed(seed)
    m.train()
    opts = {}
    losses = []
    for epoch in range(epochs):
        perm = None if in_order else torch.randperm(n, generator=order)
        total = 0.0
        for i in range(per_epoch):
            start = (epoch * per_epoch + i) * batch if in_order else i * batch
            idx = torch.arange(start, start + batch) if in_order else perm[start:start + batch]
            objs = objectives(model, m, {k: v[idx] for k, v in data.items()})
            first = None
            for name, ps, f in objs:
                opt = opts.get(name) or opts.setdefault(name, optimizer(model, name, ps, lr, config))
                opt.zero_grad()
                loss = f()
                if loss.requires_grad:
                    loss.backward()
                opt.step()
                if name == objs[0][0]:
                    first = loss.item()
            total += first
        losses.append(total / per_epoch)
        log(f'epoch {epoch + 1}: train loss {losses[-1]:.4f}')
    return losses


def train(model, m, t, steps, lr, config=None):
    """Steps of the model's objectives. Under torchrun (or its environment: WORLD_SIZE, RANK,
    MASTER_ADDR, MASTER_PORT) each process takes its shard of the batch and the gradients are averaged
    over the processes, as DistributedDataParallel does (written out, so any of the models' optimizer
    splits works); for a mean loss without batch statistics that is the whole batch's gradient."""
    world = dist.get_world_size() if dist.is_initialized() else 1
    if world > 1:
        rank = dist.get_rank()
        t = {k: v.chunk(world)[rank] for k, v in t.items()}
    m.train()
    opts = {}
    objs = objectives(model, m, t)
    for _ in range(steps):
        for name, ps, f in objs:
            opt = opts.get(name) or opts.setdefault(name, optimizer(model, name, ps, lr, config or {}))
            opt.zero_grad()
            loss = f()
            if loss.requires_grad:
                loss.backward()
            if world > 1:
                for p in ps:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
            opt.step()


def state_dict_of(m):
    """The state dict as wgpu-gen names it: BatchNorm's num_batches_tracked dropped."""
    return {k: v for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}


def load(path):
    tensors, meta = load_safetensors(path)
    if 'model' not in meta:
        raise ValueError(f'{path}: no `model` metadata (a wgpu-gen checkpoint has model and config)')
    model, config = meta['model'], json.loads(meta.get('config', '{}'))
    m = build(model, config)
    m.load_state_dict({k: v for k, v in tensors.items() if not k.startswith('optim.')}, strict=True)
    return model, config, meta, m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('command', choices=['eval', 'train', 'fit'])
    ap.add_argument('--ckpt', required=True, help='a wgpu-gen checkpoint (safetensors)')
    ap.add_argument('--inputs', required=True, help='safetensors of the inputs (x, y, z, eps, labels)')
    ap.add_argument('--out', required=True, help='where to write the outputs (eval) or the trained weights (train)')
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--epochs', type=int, default=1, help='fit: passes over the inputs')
    ap.add_argument('--batch', type=int, default=128, help='fit: examples per step')
    ap.add_argument('--lr', type=float, default=None, help="default: the checkpoint config's lr, else 1e-3")
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--in-order', action='store_true', help='fit: the inputs are a stream of fresh examples, read once in order (the 2-D sets)')
    a = ap.parse_args()
    if int(os.environ.get('WORLD_SIZE', '1')) > 1:
        dist.init_process_group('gloo')
    torch.manual_seed(a.seed)
    model, config, meta, m = load(a.ckpt)
    inputs, _ = load_safetensors(a.inputs)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if a.command == 'fit':
        t0 = time.perf_counter()
        if dist.is_initialized():
            raise SystemExit('fit runs in one process (use train under torchrun)')
        lr = a.lr if a.lr is not None else config.get('lr', 1e-3)
        losses = fit(model, m, inputs, a.epochs, a.batch, lr, a.seed, log=lambda s: print(s, flush=True), config=config, in_order=a.in_order)
        save_safetensors(a.out, state_dict_of(m), {
            'model': model, 'config': json.dumps(config), 'trained_by': f'PyTorch {torch.__version__}',
            **({'dataset': meta['dataset']} if 'dataset' in meta else {}), 'epoch': a.epochs, 'batch': a.batch, 'seed': a.seed, 'train_losses': json.dumps(losses),
            'fit_seconds': f'{time.perf_counter() - t0:.3f}'})
    elif a.command == 'eval':
        if rank == 0:
            save_safetensors(a.out, {k: v.reshape(-1) if v.dim() == 0 else v for k, v in evaluate(model, m, inputs).items()}, {'model': model})
    else:
        train(model, m, inputs, a.steps, a.lr if a.lr is not None else config.get('lr', 1e-3), config)
        if rank == 0:
            save_safetensors(a.out, state_dict_of(m), {'model': model, 'config': json.dumps(config), 'trained_by': f'PyTorch {torch.__version__}'})
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
