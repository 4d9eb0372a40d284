"""Run torch job code on the `meta` device as if it were an accelerator such as MPS, and fail on
what such a device cannot do right (shared by the host tests and the gluonts image suite).

`meta` tensors carry shape, dtype and device but no data, so every op the job calls is dispatched
(and the job's `device.type == "cpu"` fast paths take their accelerator branch, as on MPS) without
computing anything. `DeviceAudit` is a TorchDispatchMode that sees every such op and raises
`DeviceAuditError` on
- a float64 (or complex128) tensor on a non-CPU device, as operand or result: MPS has no float64
  (pytorch#122602);
- a conjugated complex operand to a matrix product (mm/bmm/addmm/baddbmm): MPS's batched complex
  matmul has mishandled conjugate views (pytorch#177474), so a complex product's backward, which
  multiplies by conjugates, may be silently wrong there.
A copy from meta back to the CPU returns what was copied there when the tensor is one the job
moved to the device itself (e.g. the training labels, which the trainer reads back), else ones
(valid as a scale or a degree of freedom; a scalar read 1, a boolean True), so the host code after
it (AUCs, calibration, early stopping, Student-t tails) runs on: the numbers are meaningless, the
dispatched ops are the job's own.
"""

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

aten = torch.ops.aten
MATRIX_PRODUCTS = {aten.mm, aten.bmm, aten.addmm, aten.baddbmm, aten.addbmm}
WIDE = {torch.float64, torch.complex128}
META = torch.device("meta")


class DeviceAuditError(AssertionError):
    pass


def _tensors(tree) -> list[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


class DeviceAudit(TorchDispatchMode):
    """with DeviceAudit(): ... fails at the first op an MPS-like device would get wrong."""

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()  # every op seen on the device, so a test can show what it covered
        self.uploads: dict[int, tuple[weakref.ref, torch.Tensor]] = {}  # id(meta tensor) -> its CPU source

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        operands = _tensors((args, kwargs))
        for tensor in operands:
            if tensor.device.type != "cpu":
                self.ops.add(str(func.overloadpacket))
                if tensor.dtype in WIDE:
                    raise DeviceAuditError(f"{func}: {tensor.dtype} operand on {tensor.device}")
        if func.overloadpacket in MATRIX_PRODUCTS:
            for tensor in operands:
                if tensor.device.type != "cpu" and tensor.is_complex() and tensor.is_conj():
                    raise DeviceAuditError(f"{func}: conjugated complex operand ({tensor.dtype}, {tensor.device})")
        result = self._host_view(func, args, kwargs)
        if result is None:
            result = func(*args, **kwargs)
            if func is aten._to_copy.default and args[0].device.type == "cpu" and result.device == META:
                self.uploads[id(result)] = (weakref.ref(result), args[0].to(result.dtype))
        for tensor in _tensors(result):
            if tensor.device.type != "cpu" and tensor.dtype in WIDE:
                raise DeviceAuditError(f"{func}: makes a {tensor.dtype} tensor on {tensor.device}")
        return result

    def _host_view(self, func, args, kwargs):
        """What a meta -> CPU read returns instead of failing (meta holds no data): see the module."""
        source = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if source is None or source.device != META:
            return None
        if func is aten._to_copy.default and torch.device(kwargs.get("device") or source.device).type == "cpu":
            dtype = kwargs.get("dtype") or source.dtype
            reference, uploaded = self.uploads.get(id(source), (lambda: None, None))
            if reference() is source:
                return uploaded.to(dtype)
            return torch.ones(source.shape, dtype=dtype)
        if func is aten._local_scalar_dense.default:
            return True if source.dtype == torch.bool else 1
        return None
