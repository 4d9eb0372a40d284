"""Device self-check: does a device compute what the CPU computes? Each torch model's forward and
backward from the same seed, weights and inputs on a reference device (the CPU) and on a
candidate device (MPS on a Mac), and the largest differences of the logits and of the gradients;
then one AdamW step from the same gradients, plain on the reference and fused on the candidate
(the kernel the trainer uses only where this check has passed: jobs/torch_models/trainer.py).

Models run in eval mode: dropout draws its masks from each device's own generator, so a training
mode forward would differ by design. Differences are relative to the reference's largest
magnitude. On the `meta` device (no data) the code path runs and no difference is reported.

`orch doctor --mac` runs it in the torch env's venv:
    python -m jobs.torch_models.selfcheck --device mps --out report.json
"""

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
from torch import nn

from jobs.common.device import torch_device
from jobs.common.errors import JobError
from jobs.torch_models.sizing import sized_config
from jobs.torch_models.zoo import ARCHITECTURES

TOLERANCE = 1e-3  # largest difference / largest reference magnitude that still counts as agreement
SIZE = 50_000  # parameters per model: every layer kind, seconds on a laptop
BATCH, CONTEXT, FEATURES = 16, 80, 25
LEARNING_RATE = 1e-3


def relative_difference(candidate: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    scale = max(float(r.abs().max()) for r in reference)
    largest = max(float((c - r).abs().max()) for c, r in zip(candidate, reference, strict=True))
    return largest / scale if scale > 0 else largest


def forward_backward(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device):
    """(logits, gradients by name) of one BCE step, both brought back to the CPU."""
    model = model.to(device)
    logits = model(x.to(device))
    nn.functional.binary_cross_entropy_with_logits(logits.float(), y.to(device)).backward()
    grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    return model, logits.detach(), grads


def adamw_update(model: nn.Module, grads: dict[str, torch.Tensor], *, fused: bool) -> list[torch.Tensor]:
    """The parameter change of one AdamW step from the given gradients."""
    params = dict(model.named_parameters())
    for name, grad in grads.items():
        params[name].grad = grad.to(params[name].device)
    before = [p.detach().clone() for p in params.values()]
    torch.optim.AdamW(list(params.values()), lr=LEARNING_RATE, weight_decay=0.01, fused=fused).step()
    return [(p.detach() - b) for p, b in zip(params.values(), before, strict=True)]


def check_model(name: str, reference: torch.device, candidate: torch.device, seed: int = 0) -> dict:
    architecture = ARCHITECTURES[name]
    config = sized_config(architecture, SIZE, context_length=CONTEXT, n_features=FEATURES)
    torch.manual_seed(seed)
    model = architecture.model(config).eval()
    inputs = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, CONTEXT, FEATURES, generator=inputs)
    y = (torch.rand(BATCH, generator=inputs) > 0.5).float()
    ref_model, ref_logits, ref_grads = forward_backward(copy.deepcopy(model), x, y, reference)
    cand_model, cand_logits, cand_grads = forward_backward(copy.deepcopy(model), x, y, candidate)
    ref_update = adamw_update(ref_model, ref_grads, fused=False)
    try:  # the same gradients on both sides: only the optimiser kernels differ
        cand_update = adamw_update(cand_model, ref_grads, fused=True)
        fused_error = None
    except (RuntimeError, ValueError) as exc:
        cand_update, fused_error = None, " ".join(str(exc).split())[:200]
    row = {"parameters": sum(p.numel() for p in model.parameters()), "fused_adamw_error": fused_error}
    if candidate.type == "meta":  # no data: the path ran, there is nothing to compare
        return {**row, "logits": None, "gradients": None, "fused_adamw_update": None, "ok": None}
    row["logits"] = relative_difference([cand_logits.cpu()], [ref_logits.cpu()])
    names = sorted(ref_grads)
    if sorted(cand_grads) != names:
        raise JobError(f"{name}: {candidate} computed gradients for other parameters than {reference}")
    row["gradients"] = relative_difference([cand_grads[n].cpu() for n in names], [ref_grads[n].cpu() for n in names])
    row["fused_adamw_update"] = (
        None if cand_update is None else relative_difference([u.cpu() for u in cand_update], ref_update)
    )
    row["ok"] = row["logits"] <= TOLERANCE and row["gradients"] <= TOLERANCE
    return row


def run(device: str, models: list[str], reference: str = "cpu") -> dict:
    candidate = torch.device("meta") if device == "meta" else torch_device(device)
    unknown = sorted(set(models) - set(ARCHITECTURES))
    if unknown:
        raise JobError(f"unknown model(s) {unknown}; known: {sorted(ARCHITECTURES)}")
    rows = {name: check_model(name, torch.device(reference), candidate) for name in models}
    fused_ok = [r["fused_adamw_update"] is not None and r["fused_adamw_update"] <= TOLERANCE for r in rows.values()]
    return {
        "reference": reference,
        "device": str(candidate),
        "torch": torch.__version__,
        "tolerance": TOLERANCE,
        "mode": "eval (dropout off), one BCE forward/backward, one AdamW step from the reference's gradients",
        "models": rows,
        "all_ok": None if candidate.type == "meta" else all(r["ok"] for r in rows.values()),
        "fused_adamw_within_tolerance": None if candidate.type == "meta" else all(fused_ok),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True, help="the candidate device: mps, cuda, cpu or meta")
    parser.add_argument("--models", default=",".join(sorted(ARCHITECTURES)), help="comma-separated model names")
    parser.add_argument("--out", type=Path, required=True, help="where the JSON report goes")
    args = parser.parse_args(argv)
    try:
        report = run(args.device, [m for m in args.models.split(",") if m])
    except JobError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
