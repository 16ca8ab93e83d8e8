"""K copies of the classifier as one set of stacked tensors [K, ...]: batched forward, per-fold views.

Fold k's parameter `name` is `params[name][k]`, with the shape and meaning of the same entry of a
`TabularClassifier` state_dict, so a fold's model, optimizer state and checkpoint are slices of the
stack. Inputs are standardised once per fold (the fold's own scaler), so the forward pass starts at
the first Linear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.errors import ConfigError
from phoneprice_edge.model import TabularClassifier


def unsupported(cfg: TrainConfig) -> str | None:
    """Why cfg needs the per-fold trainer (None: the stacked trainer covers it)."""
    reasons = [(cfg.optimizer != "adamw", f"optimizer = {cfg.optimizer}"),
               (cfg.num_workers > 0, "num_workers > 0 (DataLoader batches)"),
               (cfg.noise_sigma > 0 or cfg.mixup_alpha > 0, "augmentation"),
               (cfg.dropout_p > 0, "dropout"), (cfg.norm != "none", f"norm = {cfg.norm}"),
               (cfg.ordinal, "ordinal"), (cfg.grad_clip > 0, "grad_clip")]
    return next((why for bad, why in reasons if bad), None)


@dataclass(frozen=True)
class Layout:
    """Parameter names of the classifier in state_dict order, and which Linear is which."""

    names: tuple[str, ...]
    hidden: tuple[str, ...]  # prefixes of the hidden Linears ("body.0", "body.2", ...)
    wide: bool
    relu: bool

    @classmethod
    def of(cls, model: TabularClassifier) -> Layout:
        if model.cfg.ordinal or model.cfg.norm != "none" or model.cfg.dropout_p > 0:
            raise ConfigError("the stacked trainer covers plain Linear + activation bodies only")
        hidden = tuple(f"body.{i}" for i, m in enumerate(model.body)
                       if isinstance(m, torch.nn.Linear))
        return cls(tuple(n for n, _ in model.named_parameters()), hidden,
                   model.wide is not None, model.cfg.activation == "relu")

    @property
    def input_names(self) -> tuple[str, ...]:
        """The weights that read the standardised input (L1 penalty, feature mask)."""
        first = f"{self.hidden[0]}.weight" if self.hidden else "head.weight"
        return (first, "wide.weight") if self.wide else (first,)


def stack_params(models: Sequence[TabularClassifier], layout: Layout,
                 device: torch.device) -> dict[str, torch.Tensor]:
    """Tensors [K, *shape] holding each fold's initial parameters, each with a .grad buffer.

    No autograd: train_step writes the gradients into .grad itself.
    """
    out = {}
    for name in layout.names:
        t = torch.stack([dict(m.named_parameters())[name].detach() for m in models]).to(device)
        t.grad = torch.zeros_like(t)
        out[name] = t
    return out


def targets(y: torch.Tensor, num_classes: int, smoothing: float) -> torch.Tensor:
    """The soft targets cross-entropy compares with: (1 - s) * one_hot + s / C, float32 [..., C]."""
    t = F.one_hot(y, num_classes).to(torch.float32)
    return t * (1.0 - smoothing) + smoothing / num_classes if smoothing > 0 else t


def _act_backward(grad: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, relu: bool) -> torch.Tensor:
    if relu:
        return torch.ops.aten.threshold_backward(grad, post, 0)
    return torch.ops.aten.gelu_backward(grad, pre)


@dataclass(frozen=True)
class Linear:
    """One stacked Linear as the step uses it: W, W^T, W.grad, bias [K, 1, out] and its grad (views)."""

    w: torch.Tensor
    wt: torch.Tensor
    gw: torch.Tensor
    b: torch.Tensor
    gb: torch.Tensor


@dataclass(frozen=True)
class Views:
    """The views train_step reuses every step (they follow the in-place updates), built once."""

    hidden: tuple[Linear, ...]
    head: Linear
    wide: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None  # W^T, W.grad, W
    relu: bool
    inputs: tuple[list[torch.Tensor], list[torch.Tensor]]  # input weights, their grads (L1)

    @classmethod
    def of(cls, p: dict[str, torch.Tensor], layout: Layout) -> Views:
        def lin(name: str) -> Linear:
            w, b = p[f"{name}.weight"], p[f"{name}.bias"]
            return Linear(w, w.transpose(1, 2), w.grad, b.unsqueeze(1), b.grad.unsqueeze(1))  # type: ignore[arg-type, union-attr]

        wide = None
        if layout.wide:
            w = p["wide.weight"]
            wide = (w.transpose(1, 2), w.grad, w)
        ws = [p[n] for n in layout.input_names]
        return cls(tuple(lin(n) for n in layout.hidden), lin("head"), wide, layout.relu,  # type: ignore[arg-type]
                   (ws, [w.grad for w in ws]))  # type: ignore[misc]


def train_step(v: Views, z: torch.Tensor, t: torch.Tensor, l1: float,
               ones: torch.Tensor) -> torch.Tensor:
    """Forward and backward of every fold's mean cross-entropy on its batch; returns the logits.

    z [K, B, F] standardised rows, t [K, B, C] their soft targets, ones [K, 1, B], v = Views.of(p).
    Writes into each parameter's .grad the gradient of (1/B) sum_rows CE, plus l1 * sign(W) for
    the input weights (builders.add_l1_subgradient): autograd's result for the per-fold loss,
    done by hand in a fixed handful of batched ops. No autograd (the stacked parameters do not
    require gradients); callers run it under torch.no_grad(), once for the whole epoch.
    """
    acts = [(z, z)]  # (pre-activation, output) per hidden layer; the input first
    h = z
    for lin in v.hidden:
        pre = torch.baddbmm(lin.b, h, lin.wt)
        h = torch.relu(pre) if v.relu else F.gelu(pre)
        acts.append((pre, h))
    logits = torch.baddbmm(v.head.b, h, v.head.wt)
    if v.wide is not None:
        logits.baddbmm_(z, v.wide[0])
    g = torch.softmax(logits, 2).sub_(t)  # d(sum of CE)/d logits
    alpha = 1.0 / z.shape[1]
    _linear_grads(v.head, g, h, alpha, ones)
    if v.wide is not None:
        _weight_grad(v.wide[1], g, z, alpha)
    nxt = v.head
    for i in range(len(v.hidden) - 1, -1, -1):
        lin = v.hidden[i]
        g = _act_backward(torch.bmm(g, nxt.w), *acts[i + 1], v.relu)
        _linear_grads(lin, g, acts[i][1], alpha, ones)
        nxt = lin
    if l1 > 0:
        _add_l1(v.inputs, l1)
    return logits


def _weight_grad(gw: torch.Tensor, g: torch.Tensor, x: torch.Tensor, alpha: float) -> None:
    """W.grad = alpha * g^T x, per fold (beta = 0: the old .grad is not read)."""
    torch.baddbmm(gw, g.transpose(1, 2), x, beta=0.0, alpha=alpha, out=gw)


def _add_l1(inputs: tuple[list[torch.Tensor], list[torch.Tensor]], l1: float) -> None:
    """grad += l1 * sign(W) for the input weights (builders.add_l1_subgradient).

    Added after the products, not through baddbmm's beta: with beta the library may take another
    path for some shapes and stacks, and a fold would then round differently in a stack than alone.
    """
    ws, grads = inputs
    torch._foreach_add_(grads, torch._foreach_sign(ws), alpha=l1)  # type: ignore[misc]


def _linear_grads(lin: Linear, g: torch.Tensor, x: torch.Tensor, alpha: float,
                  ones: torch.Tensor) -> None:
    _weight_grad(lin.gw, g, x, alpha)
    torch.baddbmm(lin.gb, ones, g, beta=0.0, alpha=alpha, out=lin.gb)


@torch.no_grad()
def forward(p: dict[str, torch.Tensor], layout: Layout, z: torch.Tensor) -> torch.Tensor:
    """Logits [K, B, C] of every fold's model on its standardised rows z [K, B, F]."""
    h = z
    for pre in layout.hidden:
        h = torch.baddbmm(p[f"{pre}.bias"].unsqueeze(1), h, p[f"{pre}.weight"].transpose(1, 2))
        h = F.relu(h) if layout.relu else F.gelu(h)
    out = torch.baddbmm(p["head.bias"].unsqueeze(1), h, p["head.weight"].transpose(1, 2))
    if layout.wide:
        out = torch.baddbmm(out, z, p["wide.weight"].transpose(1, 2))
    return out


def fold_ce(logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Per-row cross-entropy [K, B] of logits [K, B, C] against labels [K, B]."""
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none", label_smoothing=smoothing)


def fold_state(p: dict[str, torch.Tensor], k: int, template: TabularClassifier) -> dict[str, torch.Tensor]:
    """Fold k's full state_dict (its scaler buffers from template, the parameters from the stack)."""
    state = {n: b.detach().clone() for n, b in template.state_dict().items() if n not in p}
    state.update({n: t[k].detach().cpu().clone() for n, t in p.items()})
    return state


@torch.no_grad()
def importance(p: dict[str, torch.Tensor], layout: Layout) -> torch.Tensor:
    """Per-fold, per-feature total |input weight| [K, F] (select.importance of each fold)."""
    return sum(p[n].abs().sum(1) for n in layout.input_names)  # type: ignore[return-value]


@torch.no_grad()
def select_masks(p: dict[str, torch.Tensor], layout: Layout, threshold: float) -> torch.Tensor:
    """Each fold's kept features [K, F]: importance >= threshold * that fold's largest one."""
    imp = importance(p, layout)
    return imp >= threshold * imp.amax(1, keepdim=True)
