"""PyTorch peer of DP² Studio's training steps, for bench/peer-torch.ts.

Builds the same conditional VAE as src-main/engine/architecture.ts from the
architecture description the bench passes (JSON), and times one kind of step:

  train  -- the non-private CVAE step of stage 1 of DP²-VAE: mean −ELBO over
            the batch, backward, clip the batch gradient to norm C, Adam.
  dpsgd  -- DP-SGD: per-example gradients of −ELBO (encoder and decoder as
            one vector), each clipped to norm C, summed, Gaussian noise
            N(0, σ²C²) added, divided by the batch, Adam.
            per_example = "vmap" (functorch/torch.func vmap of grad) or
            "ghost" (the app's algorithm: per-example norms of dense layers
            from layer inputs and output gradients, per-example weights of
            (transposed) convolutions from unfolded patches, then one
            weighted product per layer).

Prints one JSON line: parameter counts, steps, seconds, images/s, threads.
Run with Debian's python3-torch (CPU); it is a bench tool, never part of the app.
"""

import argparse
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:  # torch >= 2.0
    from torch.func import functional_call, grad, vmap
except ImportError:  # torch 1.13 (Debian bookworm): functorch
    from functorch import grad, vmap
    from torch.nn.utils.stateless import functional_call


class MlpCvae(nn.Module):
    """mlp-cvae: encoder (D+classes)→hidden…→2·latent, decoder (latent+classes)→hidden…→D."""

    def __init__(self, arch):
        super().__init__()
        img = arch["image"]
        d = img["height"] * img["width"] * img["channels"]
        c, k = arch["classes"], arch["latent"]
        ew = [d + c, *arch["encoderHidden"], 2 * k]
        dw = [k + c, *arch["decoderHidden"], d]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(ew, ew[1:]))
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dw, dw[1:]))
        self.latent = k

    def layers(self):
        return [*self.enc, *self.dec]

    def forward(self, x, y, eps, probes=None, inputs=None):
        """Per-record (recon, kl). With probes, adds probe l to layer l's pre-activation
        and appends each layer's input to `inputs` (the ghost-clipping pass)."""
        n_enc = len(self.enc)
        state = {"l": 0}

        def dense(lin, h, relu):
            l = state["l"]
            if inputs is not None:
                inputs.append(h)
            s = lin(h)
            if probes is not None:
                probe = torch.zeros_like(s, requires_grad=True)
                probes.append(probe)
                s = s + probe
            state["l"] = l + 1
            return F.relu(s) if relu else s

        h = torch.cat([x, y], 1)
        for i, lin in enumerate(self.enc):
            h = dense(lin, h, i + 1 < n_enc)
        mu, logvar = h.split(self.latent, 1)
        z = mu + torch.exp(0.5 * logvar) * eps
        h = torch.cat([z, y], 1)
        for i, lin in enumerate(self.dec):
            h = dense(lin, h, i + 1 < len(self.dec))
        return elbo_terms(h, x, mu, logvar)


class ConvCvae(nn.Module):
    """conv-cvae: stride-2 4×4 'same' convolutions down, dense bottleneck, transposed up."""

    def __init__(self, arch):
        super().__init__()
        img = arch["image"]
        self.h, self.w, self.c = img["height"], img["width"], img["channels"]
        chans = arch["convChannels"]
        k, classes, latent, hidden = arch["kernelSize"], arch["classes"], arch["latent"], arch["hidden"]
        # tfjs 'same' padding for stride 2 and an even kernel on even sides: (k−2)/2 each side.
        pad = (k - 2) // 2
        f = 2 ** len(chans)
        self.bh, self.bw, self.bc = self.h // f, self.w // f, chans[-1]
        flat = self.bh * self.bw * self.bc
        cin = self.c
        self.convs = nn.ModuleList()
        for cout in chans:
            self.convs.append(nn.Conv2d(cin, cout, k, stride=2, padding=pad))
            cin = cout
        self.enc_fc0 = nn.Linear(flat + classes, hidden)
        self.enc_out = nn.Linear(hidden, 2 * latent)
        self.dec_fc0 = nn.Linear(latent + classes, hidden)
        self.dec_fc1 = nn.Linear(hidden, flat)
        rev = list(reversed(chans))
        self.deconvs = nn.ModuleList()
        for i, cin in enumerate(rev):
            cout = rev[i + 1] if i + 1 < len(rev) else self.c
            self.deconvs.append(nn.ConvTranspose2d(cin, cout, k, stride=2, padding=pad))
        self.latent = latent

    def layers(self):
        return [*self.convs, self.enc_fc0, self.enc_out, self.dec_fc0, self.dec_fc1, *self.deconvs]

    def forward(self, x, y, eps, probes=None, inputs=None):
        """Per-record (recon, kl); with probes as in MlpCvae.forward."""
        b = x.shape[0]

        def apply(layer, h, relu):
            if inputs is not None:
                inputs.append(h)
            s = layer(h)
            if probes is not None:
                probe = torch.zeros_like(s, requires_grad=True)
                probes.append(probe)
                s = s + probe
            return F.relu(s) if relu else s

        h = x.view(b, self.h, self.w, self.c).permute(0, 3, 1, 2)
        for conv in self.convs:
            h = apply(conv, h, True)
        h = apply(self.enc_fc0, torch.cat([h.reshape(b, -1), y], 1), True)
        mu, logvar = apply(self.enc_out, h, False).split(self.latent, 1)
        z = mu + torch.exp(0.5 * logvar) * eps
        h = apply(self.dec_fc0, torch.cat([z, y], 1), True)
        h = apply(self.dec_fc1, h, True).view(b, self.bc, self.bh, self.bw)
        for i, deconv in enumerate(self.deconvs):
            h = apply(deconv, h, i + 1 < len(self.deconvs))
        logits = h.permute(0, 2, 3, 1).reshape(b, -1)
        return elbo_terms(logits, x, mu, logvar)


def elbo_terms(logits, x, mu, logvar):
    """Per-record Bernoulli reconstruction (sigmoid cross-entropy summed over pixels) and KL."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return recon, kl


def make_model(arch):
    return MlpCvae(arch) if arch["kind"] == "mlp-cvae" else ConvCvae(arch)


def parameter_counts(model):
    enc = dec = 0
    for name, p in model.named_parameters():
        if name.startswith(("enc", "convs")):
            enc += p.numel()
        else:
            dec += p.numel()
    return enc, dec


def train_step(model, opt, batch, clip):
    x, y, eps = batch
    opt.zero_grad(set_to_none=True)
    recon, kl = model(x, y, eps)
    (recon + kl).mean().backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()


def noisy_update(model, opt, summed, clip, sigma, batch_size):
    """Adds N(0, σ²C²) to each summed clipped gradient, divides by B, Adam step."""
    for p, g in zip(model.parameters(), summed):
        p.grad = (g + torch.randn_like(g) * (sigma * clip)) / batch_size
    opt.step()


def clipped_sum_vmap(model, batch, clip):
    """Σ_i min(1, C/‖g_i‖)·g_i with every g_i materialised by vmap(grad)."""
    x, y, eps = batch
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, xi, yi, ei):
        r, k = functional_call(model, p, (xi.unsqueeze(0), yi.unsqueeze(0), ei.unsqueeze(0)))
        return (r + k).sum()

    per = vmap(grad(loss_one), in_dims=(None, 0, 0, 0))(params, x, y, eps)
    names = list(params.keys())
    b = x.shape[0]
    sq = sum(per[n].reshape(b, -1).pow(2).sum(1) for n in names)
    factors = (clip / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    return [torch.einsum("b,b...->...", factors, per[n]) for n in names]


def clipped_sum_ghost(model, batch, clip):
    """Ghost (mixed) clipping, the app's algorithm: zero probes on every pre-activation,
    one backward pass to them gives each record's output gradient G_i per layer.
    Dense: ‖∇W_i‖² + ‖∇b_i‖² = (‖a_i‖² + 1)·‖G_i‖², nothing materialised.
    (Transposed) convolutions: ∇W_i from unfolded patches (small: k·k·C_in·C_out).
    Then ∇W = Σ_i c_i ∇W_i with c_i = min(1, C/‖g_i‖): one product per layer."""
    x, y, eps = batch
    b = x.shape[0]
    probes, inputs = [], []
    recon, kl = model(x, y, eps, probes=probes, inputs=inputs)
    outs = torch.autograd.grad((recon + kl).sum(), probes)
    with torch.no_grad():
        sq = torch.zeros(b)
        per = []
        for lin, a, g in zip(model.layers(), inputs, outs):
            if isinstance(lin, nn.Linear):
                sq += (a.pow(2).sum(1) + 1) * g.pow(2).sum(1)
                per.append(None)
                continue
            k, st, pad = lin.kernel_size, lin.stride, lin.padding
            if isinstance(lin, nn.Conv2d):
                u = F.unfold(a, k, padding=pad, stride=st)  # [B, Cin·k·k, L_out]
                w = torch.bmm(g.flatten(2), u.transpose(1, 2))  # [B, Cout, Cin·k·k]
            else:  # ConvTranspose2d: weight [Cin, Cout, k, k]
                u = F.unfold(g, k, padding=pad, stride=st)  # [B, Cout·k·k, L_in]
                w = torch.bmm(a.flatten(2), u.transpose(1, 2))  # [B, Cin, Cout·k·k]
            gb = g.sum((2, 3))
            sq += w.pow(2).sum((1, 2)) + gb.pow(2).sum(1)
            per.append((w, gb))
        factors = (clip / (sq.sqrt() + 1e-12)).clamp(max=1.0)
        summed = []
        for lin, a, g, pe in zip(model.layers(), inputs, outs, per):
            if pe is None:
                cg = g * factors.unsqueeze(1)
                summed.append(cg.t() @ a)  # nn.Linear weight is [out, in]
                summed.append(cg.sum(0))
            else:
                w, gb = pe
                summed.append(torch.einsum("b,bij->ij", factors, w).view_as(lin.weight))
                summed.append(factors @ gb)
    return summed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, help="architecture JSON (architecture.ts)")
    ap.add_argument("--mode", choices=["train", "dpsgd"], required=True)
    ap.add_argument("--per-example", choices=["vmap", "ghost"], default="vmap")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--check", action="store_true", help="compare ghost and vmap clipped sums")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    # Adam's second moments reach subnormal floats; x86 is slow on those.
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    arch = json.loads(args.arch)
    model = make_model(arch)
    enc, dec = parameter_counts(model)
    img = arch["image"]
    d = img["height"] * img["width"] * img["channels"]
    b = args.batch
    # Fixed batch: intensities in [0, 1], one-hot labels, ε ~ N(0, I) (content does not change the cost).
    x = torch.randint(0, 256, (b, d)).float() / 255
    y = F.one_hot(torch.randint(0, arch["classes"], (b,)), arch["classes"]).float()
    eps = torch.randn(b, arch["latent"])
    batch = (x, y, eps)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.check:
        # Ghost and vmap clipped sums on the same batch: the same up to float rounding.
        a = clipped_sum_ghost(model, batch, args.clip)
        v = clipped_sum_vmap(model, batch, args.clip)
        err = max(((p - q).abs().max() / q.abs().max().clamp(min=1e-12)).item() for p, q in zip(a, v))
        print(json.dumps({"ok": err < 1e-3, "maxRelativeDifference": err}))
        return
    clipped_sum = clipped_sum_ghost if args.per_example == "ghost" else clipped_sum_vmap
    if args.mode == "train":
        step = lambda: train_step(model, opt, batch, args.clip)
    else:
        step = lambda: noisy_update(
            model, opt, clipped_sum(model, batch, args.clip), args.clip, args.sigma, b
        )

    for _ in range(args.warmup):
        step()
    steps = 0
    t0 = time.perf_counter()
    while True:
        step()
        steps += 1
        el = time.perf_counter() - t0
        if el >= args.seconds and steps >= 3:
            break
    print(
        json.dumps(
            {
                "ok": True,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "encoderParams": enc,
                "decoderParams": dec,
                "steps": steps,
                "seconds": el,
                "imagesPerS": steps * b / el,
                "msPerStep": 1000 * el / steps,
            }
        )
    )


if __name__ == "__main__":
    main()
