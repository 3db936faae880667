"""trainer.optimizers: fused Adam where this torch has it, and resuming across that choice."""

from __future__ import annotations

import pytest
import torch

from trainer import optimizers


def _step(opt: torch.optim.Optimizer, p: torch.Tensor) -> None:
    opt.zero_grad()
    (p ** 2).sum().backward()
    opt.step()


def test_adam_is_fused_on_this_cpu_and_plain_where_torch_has_no_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    p = torch.nn.Parameter(torch.ones(3))
    assert optimizers.adam([p], 0.1, torch.device("cpu")).param_groups[0]["fused"] is True  # torch >= 2.4
    assert not optimizers.fused_available(torch.device("mps"))  # not tried there
    monkeypatch.setattr("torch.utils._foreach_utils._get_fused_kernels_supported_devices", lambda: ["cuda"])
    assert optimizers.adam([p], 0.1, torch.device("cpu")).param_groups[0]["fused"] is None  # a torch < 2.4


def test_a_run_resumes_across_the_choice_of_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run saved with the fused kernel resumes where there is none (another torch or device),
    and the other way round, with its moments and step count."""
    p = torch.nn.Parameter(torch.ones(3))
    fused = optimizers.adam([p], 0.1, torch.device("cpu"))
    _step(fused, p)
    saved = fused.state_dict()
    monkeypatch.setattr("torch.utils._foreach_utils._get_fused_kernels_supported_devices", lambda: ["cuda"])
    q = torch.nn.Parameter(p.detach().clone())
    plain = optimizers.adam([q], 0.1, torch.device("cpu"))
    optimizers.load_state(plain, saved)
    assert plain.param_groups[0]["fused"] is None and float(plain.state[q]["step"]) == 1.0
    assert torch.equal(plain.state[q]["exp_avg"], fused.state[p]["exp_avg"])
    _step(plain, q)
    monkeypatch.undo()
    again = optimizers.adam([q], 0.1, torch.device("cpu"))
    optimizers.load_state(again, plain.state_dict())
    assert again.param_groups[0]["fused"] is True and float(again.state[q]["step"]) == 2.0
    _step(again, q)


def test_a_saved_state_with_other_groups_is_refused_as_torch_refuses_it() -> None:
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    two = optimizers.adam([{"params": [a]}, {"params": [b]}], 0.1, torch.device("cpu"))
    one = optimizers.adam([a], 0.1, torch.device("cpu"))
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optimizers.load_state(one, two.state_dict())
