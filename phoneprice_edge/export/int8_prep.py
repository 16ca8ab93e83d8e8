"""int8-ready copy of a trained model: per-feature input ranges, cross-layer equalisation, and
weights put on the int8 grid by a rounding search on training rows (every int8 target uses it).

Why: the default recipe's logits reach |65| while a few rows of every table sit within a few
hundredths of a decision boundary, so plain post-training int8 (one 8-bit scale for all 20
standardised features, hidden units whose ranges differ 10x under one scale, round-to-nearest
weights) flips 11-13 of 2000 rows. Three exact or near-exact steps make the int8 version of the
same function much closer to it, without touching the fp32 model the parity gate compares with:

1. Input ranges: the standardisation (x - mean) / std becomes (x - mid) / half_range per feature
   (mid-range and half-range over the training rows), folded into the first layer and the wide
   path, so one per-tensor 8-bit scale gives every feature its full 255 steps. Exact in float64.
2. Cross-layer equalisation (Nagel et al. 2019) of each Linear -> ReLU -> Linear pair: hidden unit
   i is scaled by k_i and the next layer's column i by 1/k_i (ReLU is positively homogeneous), so
   the per-tensor activation scale and the per-channel weight scales share the error evenly.
3. Rounding search (in the spirit of AdaRound): each weight is rounded to nearest on its
   per-output-channel symmetric grid (scale = max|W[o, :]| / 127), then, weight by weight, a
   neighbouring level is kept where it lowers the error of the simulated int8 model against the
   fp32 model on the training rows (the error of each row's top-two margin, weighted towards
   rows near a decision boundary). The max element of each channel stays +-127, so
   every exporter that recomputes max/127 gets exactly these integers back.

Only training rows are used (never validation rows). Everything runs in float64 on the CPU, in a
fixed order, so the same checkpoint gives the same int8 weights on any machine.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from phoneprice_edge.export.cpp_static_ref import S8_MAX, S16_MAX, U8_MAX, wide_ok
from phoneprice_edge.model import TabularClassifier

Activations = Literal["static", "dynamic", "cpp_static"]
MAX_SEARCH_WEIGHTS = 50_000  # larger models get round-to-nearest only (the search is O(weights))
# The search objective (_objective). Measured on the default recipe, real and built-in data:
# plain squared logit error kept 8 of 1600 training rows flipped; margin-weighted error, 2-4.
MARGIN_EPS = 0.3
MSE_WEIGHT = 1e-3
SEARCH_MARGIN = 3.0  # rows with a larger fp32 margin carry < 1% of a boundary row's weight
SEARCH_ROWS = 256  # at most this many rows (the smallest margins) are scored by the search
SEARCH_EVALS = 4_000  # at most this many candidate levels are scored: the default model needs
# ~3.2k (6 sweeps over its 268 searchable weights); larger models get a partial first sweep


def prepare_int8(model: TabularClassifier, rows: np.ndarray, activations: Activations = "static",
                 split: bool = True, sweeps: int = 6,
                 act_levels: int = 255, act_bits: int = 8) -> tuple[TabularClassifier, dict[str, Any]]:
    """A float32 copy of `model` computing the same function, prepared for int8 (see module
    docstring), and the manifest facts. `activations` is how the target quantizes layer inputs:
    "static" (one calibrated min/max range per tensor, uint8 asymmetric: ONNX Runtime QDQ, NNCF,
    fbgemm) or "dynamic" (symmetric int8 per row, the C++ runtime); act_levels: the uint8
    levels of a static range (activation_levels); act_bits: cpp_static's activation width (8, or
    16 for W8A16 at the layers export/cpp_static.py makes 16-bit)."""
    m = copy.deepcopy(model).eval()
    if m.cfg.ordinal:
        m.materialize()
    m = m.double()
    xn = np.asarray(rows, dtype=np.float64)
    x = torch.as_tensor(xn)
    with torch.no_grad():
        plain = copy.deepcopy(m)
        teacher = plain(x).numpy()
        _equalise_input(m, x)
        pairs = _equalise_hidden(m, x)
        sim0 = _Sim(plain, activations, False, act_levels, act_bits)
        sim = _Sim(m, activations, split, act_levels, act_bits)
    before = _sq_err(sim0, xn, teacher)
    nearest = _sq_err(sim, xn, teacher)
    pruned = [w == 0 for w in sim.weights]  # inputs feature selection removed
    n_weights = sum(int(w.size) for w in sim.weights)
    do_search = n_weights <= MAX_SEARCH_WEIGHTS and len(xn) > 0
    flips = searched = 0
    if do_search:
        near = _near_boundary(teacher)
        flips, searched = _search(sim, xn, xn[near], teacher[near], pruned, sweeps)
    else:
        for k, w in enumerate(sim.weights):
            q, s = sim.grid(k)
            w[...] = q * s
    after = _sq_err(sim, xn, teacher)
    sim.run(xn, quant=False)
    agree = float((sim.run(xn).argmax(1) == teacher.argmax(1)).mean())
    with torch.no_grad():
        sim.write_back(m)
    facts = {
        "method": "per-feature input ranges + cross-layer equalisation + int8 rounding search",
        "rows": int(len(x)), "rows_source": "training rows outside the validation split",
        "simulated_activations": activations, "activation_split": bool(split),
        "weight_levels": f"-{QMAX}..{QMAX} per output channel",
        "activation_levels": {"static": f"0..{act_levels}", "dynamic": "-127..127 per row",
                              "cpp_static": "-128..127 per input feature, 0..255 per channel after a ReLU"
                              if act_bits == 8 else "int16 (W8A16): -32767..32767 per input feature, "
                                                    "0..32767 per channel after a ReLU"}[activations],
        "input_ranges": {"features": int(x.shape[1]), "mapped_to": [-1.0, 1.0]},
        "cross_layer_equalisation": pairs,
        "rounding_search": {"enabled": bool(do_search), "sweeps": int(sweeps),
                            "weights": n_weights, "weights_searched": int(searched),
                            "changed_from_nearest": int(flips)},
        "simulated_sq_logit_error": {"plain_ptq": _round(before), "nearest": _round(nearest),
                                     "searched": _round(after)},
        "simulated_top1_agreement_on_rows": agree,
    }
    return m.float(), facts


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def _sq_err(sim: _Sim, x: np.ndarray, teacher: np.ndarray) -> float:
    """Squared logit error of the simulated int8 model (ranges from its float run) on x."""
    sim.run(x, quant=False)
    return float(((sim.run(x) - teacher) ** 2).sum())


def _linears(m: TabularClassifier) -> list[tuple[str, nn.Linear]]:
    """(name, Linear) in evaluation order: body layers, head, wide."""
    out = [(f"body.{i}", lay) for i, lay in enumerate(m.body) if isinstance(lay, nn.Linear)]
    out.append(("head", m.head))
    if m.wide is not None:
        out.append(("wide", m.wide))
    return out


def _equalise_input(m: TabularClassifier, x: torch.Tensor) -> None:
    """Standardisation -> (x - mid) / half_range (each feature in [-1, 1] on the rows; measured
    as good as [0, 1]), folded into the layers that read it (exact in float64)."""
    mean, std = m.standardize.mean.clone(), m.standardize.std.clone()
    lo, hi = x.min(0).values, x.max(0).values
    mid, half = (hi + lo) / 2, (hi - lo) / 2
    half = torch.where(half > 0, half, std)  # a constant feature keeps its scale
    k, off = half / std, (mid - mean) / std  # z = k * z' + off
    first = m.first_linear
    readers = [first] + ([m.wide] if m.wide is not None else [])
    shifts = [lay.weight @ off for lay in readers]  # computed before any weight changes
    for lay, shift in zip(readers, shifts, strict=True):
        lay.weight.mul_(k)
        # the wide path has no bias: its constant goes to the head's bias (same logits)
        (lay.bias if lay.bias is not None else m.head.bias).add_(shift)
    m.standardize.mean.copy_(mid)
    m.standardize.std.copy_(half)


def _equalise_hidden(m: TabularClassifier, x: torch.Tensor) -> list[str]:
    """Cross-layer equalisation of every Linear -> ReLU (-> Dropout) -> Linear pair."""
    if m.cfg.norm != "none" or m.cfg.activation != "relu":
        return []
    seq = list(m.body) + [m.head]
    names = [f"body.{i}" for i in range(len(m.body))] + ["head"]
    done = []
    for i, a in enumerate(seq):
        if not isinstance(a, nn.Linear):
            continue
        nxt = next((j for j in range(i + 1, len(seq)) if isinstance(seq[j], nn.Linear)), None)
        if nxt is None:
            break
        b = seq[nxt]
        h = m.standardize(x)
        for lay in seq[:i + 1]:
            h = lay(h)
        r = F.relu(h).max(0).values
        c = b.weight.abs().max(0).values
        alive = (r > 0) & (c > 0)
        if not bool(alive.any()):
            continue
        k = torch.ones_like(r)
        k[alive] = torch.sqrt(c[alive] / r[alive])
        k[alive] /= torch.exp(torch.log(k[alive]).mean())
        a.weight.mul_(k[:, None])
        a.bias.mul_(k)
        b.weight.div_(k[None, :])
        done.append(f"{names[i]} -> {names[nxt]}")
    return done


QMAX = S8_MAX  # the weight grid's largest level (symmetric int8 per output channel)


def _scales(w: np.ndarray) -> np.ndarray:
    """Per-output-channel symmetric scale max|W[o, :]| / 127 (1 for an all-zero channel)."""
    s = np.abs(w).max(1, keepdims=True) / QMAX
    return np.where(s > 0, s, 1.0)


def _grid(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integer levels, scales) of round-to-nearest on each channel's int8 grid."""
    s = _scales(w)
    return np.clip(np.round(w / s), -QMAX, QMAX), s


class _Sim:
    """The model as numpy float64 ops, run with int8-quantized Linear inputs and weights.

    numpy is used for the search: it runs thousands of forward passes, and float64 through
    torch under the portable (MKL_CBWR=COMPATIBLE) kernels is ~20x slower here. `run` keeps
    every Linear's quantized input and output, so that `run_changed` can score a change of one
    weight by recomputing only that output column and the layers after it."""

    def __init__(self, m: TabularClassifier, mode: Activations, split: bool,
                 levels: int = 255, bits: int = 8) -> None:
        def arr(t: torch.Tensor | None) -> np.ndarray | None:
            return None if t is None else t.detach().double().numpy().copy()

        self.mode, self.split, self.levels = mode, split, levels
        self.mean, self.std = arr(m.standardize.mean), arr(m.standardize.std)
        self.ops: list[tuple[str, Any]] = []  # body then head; the wide path is separate
        self.weights: list[np.ndarray] = []  # every Linear weight, evaluation order (views)
        self.biases: list[np.ndarray | None] = []
        for lay in list(m.body) + [m.head]:
            if isinstance(lay, nn.Linear):
                self.ops.append(("linear", self._lin(lay, arr)))
            elif isinstance(lay, nn.ReLU):
                self.ops.append(("relu", None))
            elif isinstance(lay, nn.GELU):
                self.ops.append(("gelu", None))
            elif isinstance(lay, nn.LayerNorm):
                self.ops.append(("layernorm", (arr(lay.weight), arr(lay.bias), lay.eps)))
            elif isinstance(lay, nn.BatchNorm1d):
                scale = arr(lay.weight) / np.sqrt(arr(lay.running_var) + lay.eps)
                self.ops.append(("affine", (scale, arr(lay.bias) - arr(lay.running_mean) * scale)))
            # Dropout: identity at inference
        self.wide = None if m.wide is None else self._lin(m.wide, arr)
        # position in ops of each body/head Linear (by weight index)
        self.pos = {p: j for j, (kind, p) in enumerate(self.ops) if kind == "linear"}
        self.ranges: list[tuple[float, float]] = []
        self.colmax: list[np.ndarray] = []  # per Linear: max |input| per column (cpp_static)
        self.u8 = {p: j >= 2 and self.ops[j - 1][0] == "relu" and self.ops[j - 2][0] == "linear"
                   for j, (kind, p) in enumerate(self.ops) if kind == "linear"}
        # cpp_static, bits 16: the Linears reading int16 (export/cpp_static.py: every layer whose
        # sums fit int32 with int16 inputs; after a folded ReLU, only if the layer before is 16-bit)
        self.in16: dict[int, bool] = {}
        for j, (kind, p) in enumerate(self.ops):
            if kind == "linear":
                ok = mode == "cpp_static" and bits == 16 and wide_ok(self.weights[p].shape[1])
                self.in16[p] = ok and (not self.u8[p] or self.in16[self.ops[j - 2][1]])
        if self.wide is not None:
            self.in16[self.wide] = mode == "cpp_static" and bits == 16 and wide_ok(self.weights[self.wide].shape[1])
        self.on_grid = False  # weights already on their int8 grid (no rounding needed)
        self.xq: list[np.ndarray] = []  # per Linear: its quantized input (last run)
        self.y: list[np.ndarray] = []  # per Linear: its output (last run)
        self.trunk = np.zeros(0)  # output of the head (last run)

    def _lin(self, lay: nn.Linear, arr: Any) -> int:
        self.weights.append(arr(lay.weight))
        self.biases.append(arr(lay.bias))
        return len(self.weights) - 1

    def write_back(self, m: TabularClassifier) -> None:
        """Copy the (searched) weights into the torch model's Linear layers."""
        for (_, lay), w in zip(_linears(m), self.weights, strict=True):
            lay.weight.copy_(torch.as_tensor(w))

    def quant_in(self, h: np.ndarray, k: int) -> np.ndarray:
        """A layer input as the target quantizes it (coarse pass, plus the residual pass when
        the activations are split)."""
        if self.mode == "dynamic":
            hc = _row_sym(h)
            return hc + _row_sym(h - hc) if self.split else hc
        if self.mode == "cpp_static":
            s = self.in_scales(k)
            live = np.where(s > 0, s, 1.0)
            wide = self.in16.get(k, False)  # W8A16: int16 instead of uint8 / int8
            if self.u8.get(k, False):  # requantised to uint8 (int16) by the DENSE before (ReLU folded)
                return np.clip(np.floor(h / live + 0.5), 0, S16_MAX if wide else U8_MAX) * s
            lim = (-S16_MAX, S16_MAX) if wide else (-S8_MAX - 1, S8_MAX)
            return np.clip(np.rint(h / live), *lim) * s  # QUANTIZE: int8 (int16) per feature
        lo, hi = min(self.ranges[k][0], 0.0), max(self.ranges[k][1], 0.0)
        s = max((hi - lo) / self.levels, 1e-12)
        hc = _uint8(h, s, round(-lo / s))
        if not self.split:
            return hc
        # the residual (at most half a step either way) is shifted by half a step and
        # quantized as uint8 with zero point 0 (quantize.split_activations)
        return hc + _uint8(h - hc + s / 2, s / self.levels, 0) - s / 2

    def in_scales(self, k: int) -> np.ndarray:
        """cpp_static: the per-column scales of Linear k's input (max / 255 for a uint8 input
        after a folded ReLU, max |x| / 127 for a QUANTIZE op; 0 for a column 0 on every row)."""
        if self.in16.get(k, False):
            return self.colmax[k] / S16_MAX
        return self.colmax[k] / (U8_MAX if self.u8.get(k, False) else S8_MAX)

    def grid(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(integer levels, step per weight) of Linear k on its int8 grid: per output channel of
        W, or (cpp_static) of W with the input scales folded in, as export/cpp_static.py builds
        it (a column whose input scale is 0 gets level 0)."""
        w = self.weights[k]
        if self.mode != "cpp_static":
            q, s = _grid(w)
            return q, np.broadcast_to(s, w.shape)
        s_in = self.in_scales(k)[None, :]
        q, sw = _grid(w * s_in)
        step = np.divide(sw, s_in, out=np.zeros(w.shape), where=s_in > 0)
        return np.where(s_in > 0, q, 0.0), step

    def _weight(self, k: int) -> np.ndarray:
        w = self.weights[k]
        if self.on_grid:
            return w
        q, s = self.grid(k)
        return q * s

    def _linear(self, k: int, h: np.ndarray, quant: bool, record: bool = True) -> np.ndarray:
        """Linear k on h (quantized, or float recording its input range); record keeps its
        quantized input and output for run_changed."""
        if quant:
            xq = self.quant_in(h, k)
            y = xq @ self._weight(k).T
        else:
            self.ranges.append((float(h.min()), float(h.max())))
            self.colmax[k] = np.abs(h).max(0)
            xq, y = h, h @ self.weights[k].T
        if self.biases[k] is not None:
            y = y + self.biases[k]
        if record:
            self.xq[k], self.y[k] = xq, y
        return y

    def _after(self, j: int, h: np.ndarray, quant: bool, record: bool) -> np.ndarray:
        """Run ops[j:] on h."""
        for kind, p in self.ops[j:]:
            if kind == "linear":
                h = self._linear(p, h, quant, record)
            elif kind == "relu":
                h = np.maximum(h, 0.0)
            elif kind == "gelu":
                h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))
            elif kind == "layernorm":
                mu, var = h.mean(1, keepdims=True), h.var(1, keepdims=True)
                h = (h - mu) / np.sqrt(var + p[2]) * p[0] + p[1]
            else:
                h = h * p[0] + p[1]
        return h

    def run(self, x: np.ndarray, quant: bool = True) -> np.ndarray:
        """Logits; quant=False runs the float model and records each Linear's input range."""
        n = len(self.weights)
        if not quant:
            self.ranges, self.colmax = [], [np.zeros(0)] * n
        self.xq, self.y = [np.zeros(0)] * n, [np.zeros(0)] * n
        z = (x - self.mean) / self.std
        self.trunk = self._after(0, z, quant, True)
        if self.wide is None:
            return self.trunk
        return self.trunk + self._linear(self.wide, z, quant)

    def _changed(self, k: int, o: int, i: int, delta: float,
                 record: bool) -> tuple[np.ndarray, np.ndarray]:
        """(layer k's output, the head's output) with weight k[o, i] changed by delta: only
        column o of layer k and the layers after it are recomputed."""
        y = self.y[k].copy()
        y[:, o] += delta * self.xq[k][:, i]
        trunk = self.trunk if k == self.wide else self._after(self.pos[k] + 1, y, True, record)
        return y, trunk

    def accept(self, k: int, o: int, i: int, delta: float) -> None:
        """Update the cached layer states for weight k[o, i] having changed by delta (the
        weight itself is already changed)."""
        self.y[k], self.trunk = self._changed(k, o, i, delta, True)

    def run_changed(self, k: int, o: int, i: int, delta: float) -> np.ndarray:
        """Logits of the last run's input with weight k[o, i] changed by delta (quantized
        model, weights on the grid)."""
        y, trunk = self._changed(k, o, i, delta, False)
        if self.wide is None:
            return trunk
        return trunk + (y if k == self.wide else self.y[self.wide])


def _row_sym(h: np.ndarray) -> np.ndarray:
    """Symmetric int8 per row (scale max|row| / 127), dequantized: the C++ runtime's scheme."""
    s = np.abs(h).max(1, keepdims=True) / 127.0
    s = np.where(s > 0, s, 1.0)
    return np.clip(np.round(h / s), -127, 127) * s


def _uint8(h: np.ndarray, s: float, zp: int) -> np.ndarray:
    """uint8 asymmetric with a fixed scale and zero point, dequantized."""
    return (np.clip(np.round(h / s) + zp, 0, 255) - zp) * s


def _erf(v: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(v)


def _near_boundary(teacher: np.ndarray, margin: float = SEARCH_MARGIN,
                   at_least: int = 64) -> np.ndarray:
    """Indices of the rows whose fp32 top-two margin is below `margin` (at least `at_least`
    rows, the smallest margins): the only rows int8 can flip, and the ones the search scores."""
    srt = np.sort(teacher, 1)
    m = srt[:, -1] - srt[:, -2]
    order = np.argsort(m, kind="stable")
    n = int((m < margin).sum())
    return np.sort(order[:min(max(n, at_least), SEARCH_ROWS, len(m))])


def _objective(teacher: np.ndarray) -> Any:
    """Loss of simulated logits: squared error of each row's margin between the fp32 model's top
    two classes, weighted by 1 / (fp32 margin + MARGIN_EPS)^2 so that rows near a decision boundary
    (the ones int8 can flip) count most, plus the plain squared logit error scaled down."""
    order = np.argsort(-teacher, 1, kind="stable")
    top, second = order[:, 0], order[:, 1]
    r = np.arange(len(teacher))
    margin = teacher[r, top] - teacher[r, second]
    wgt = 1.0 / (margin + MARGIN_EPS) ** 2

    def loss(out: np.ndarray) -> float:
        e = (out[r, top] - out[r, second]) - margin
        return float((wgt * e * e).sum() + MSE_WEIGHT * ((out - teacher) ** 2).sum())
    return loss


def _search(sim: _Sim, calib: np.ndarray, x: np.ndarray, teacher: np.ndarray,
            pruned: list[np.ndarray], sweeps: int) -> tuple[int, int]:
    """Weights start on the nearest grid point; sweep over them, moving a weight one level up
    or down where that lowers the objective on x. The element that fixes a channel's scale
    (|level| = 127) and pruned inputs stay. Returns (weights changed, weights tried)."""
    sim.run(calib, quant=False)  # input scales (cpp_static) of the float weights
    for k, w in enumerate(sim.weights):
        q, s = sim.grid(k)
        w[...] = q * s
    objective = _objective(teacher)
    changed = tried = evals = 0
    for _ in range(sweeps):
        sim.on_grid = False
        sim.run(calib, quant=False)  # ranges of the current weights, fixed during the sweep
        sim.on_grid = True
        base = objective(sim.run(x))
        before = changed
        tried = 0
        for k, (w, zero) in enumerate(zip(sim.weights, pruned, strict=True)):
            q, s = sim.grid(k)
            q = q.copy()
            for o, i in zip(*np.nonzero(~zero & (np.abs(q) < QMAX) & (s > 0)), strict=True):
                tried += 1
                if evals >= SEARCH_EVALS:
                    break
                for step in (1.0, -1.0):
                    evals += 1
                    loss = objective(sim.run_changed(k, int(o), int(i), step * s[o, i]))
                    if loss < base * (1 - 1e-9):
                        base, changed = loss, changed + 1
                        q[o, i] += step
                        w[o, i] = q[o, i] * s[o, i]
                        sim.accept(k, int(o), int(i), step * s[o, i])
                        break
        sim.on_grid = False
        if changed == before or evals >= SEARCH_EVALS:
            break
    return changed, tried
