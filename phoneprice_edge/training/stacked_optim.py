"""AdamW and its per-step schedule for stacked tensors, straight on torch's fused AdamW kernel.

The same update as `torch.optim.AdamW(fused=True)` + the LambdaLR of builders.make_scheduler (the
kernel is `torch._fused_adamw_`, called as AdamW's fused path calls it), without the Optimizer
machinery per step (hooks, grouping, profiling records; constructing one also imports
torch._dynamo, ~1.5 s of CPU). Its state_dict has the layout of torch.optim.AdamW's and of
LambdaLR's, so a fold's slice reads like a per-fold Trainer's.
"""

from __future__ import annotations

from typing import Any

import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.training.builders import lr_factor

BETAS = (0.9, 0.999)
EPS = 1e-8


class StackedAdamW:
    """AdamW (decoupled weight decay on `decay`, none on `rest`) with a per-step LR schedule."""

    def __init__(self, cfg: TrainConfig, decay: list[torch.Tensor], rest: list[torch.Tensor],
                 steps_per_epoch: int) -> None:
        if cfg.optimizer != "adamw":
            raise ValueError("StackedAdamW implements adamw only")
        self.groups = [(decay, cfg.weight_decay), (rest, 0.0)]
        self.params = decay + rest
        # one kernel call per distinct weight decay (one in all when it is 0)
        self._calls = ([(0, len(self.params), 0.0)] if cfg.weight_decay == 0 else
                       [(0, len(decay), cfg.weight_decay), (len(decay), len(self.params), 0.0)])
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]
        self.base_lr = cfg.learning_rate
        self.factor = lr_factor(cfg, steps_per_epoch)
        self.t = 0  # scheduler steps taken
        self.lr = self.base_lr * self.factor(0)

    def step(self) -> None:
        """One AdamW update of every parameter from its .grad, then the schedule's next rate."""
        torch._foreach_add_(self.steps, 1)
        for i, j, wd in self._calls:
            params = self.params[i:j]
            torch._fused_adamw_(params, [p.grad for p in params], self.exp_avg[i:j],
                                self.exp_avg_sq[i:j], [], self.steps[i:j], amsgrad=False,
                                lr=self.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=wd,
                                eps=EPS, maximize=False, grad_scale=None, found_inf=None)
        self.t += 1
        self.lr = self.base_lr * self.factor(self.t)

    # -- state in torch.optim.AdamW / LambdaLR layout -----------------------------------------
    def state_tensors(self) -> list[torch.Tensor]:
        """Every state tensor (steps, first and second moments), in the order state_dict reads them."""
        return [*self.steps, *self.exp_avg, *self.exp_avg_sq]

    def state_dict(self, tensors: list[torch.Tensor] | None = None) -> dict[str, Any]:
        """The state in torch.optim.AdamW's layout; tensors: copies of state_tensors() to use instead."""
        n = len(self.params)
        flat = self.state_tensors() if tensors is None else tensors
        steps, exp_avg, exp_avg_sq = flat[:n], flat[n:2 * n], flat[2 * n:]
        state = {i: {"step": s, "exp_avg": m, "exp_avg_sq": v}
                 for i, (s, m, v) in enumerate(zip(steps, exp_avg, exp_avg_sq, strict=True))}
        groups, i = [], 0
        for params, wd in self.groups:
            groups.append({"lr": self.lr, "betas": BETAS, "eps": EPS, "weight_decay": wd,
                           "amsgrad": False, "foreach": None, "maximize": False,
                           "capturable": False, "differentiable": False, "fused": True,
                           "decoupled_weight_decay": True, "initial_lr": self.base_lr,
                           "params": list(range(i, i + len(params)))})
            i += len(params)
        return {"state": state, "param_groups": groups}

    def scheduler_state(self) -> dict[str, Any]:
        return {"base_lrs": [self.base_lr] * len(self.groups), "last_epoch": self.t,
                "_step_count": self.t + 1, "_get_lr_called_within_step": False,
                "_last_lr": [self.lr] * len(self.groups), "lr_lambdas": [None] * len(self.groups)}

    def load_state_dict(self, sd: dict[str, Any], scheduler: dict[str, Any]) -> None:
        with torch.no_grad():
            for i, p in enumerate(self.params):
                s = sd["state"][i]
                self.steps[i].copy_(s["step"])
                self.exp_avg[i].copy_(s["exp_avg"].to(p.device))
                self.exp_avg_sq[i].copy_(s["exp_avg_sq"].to(p.device))
        self.t = int(scheduler["last_epoch"])
        self.lr = self.base_lr * self.factor(self.t)
