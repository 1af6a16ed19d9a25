"""Scaled dot-product attention, lowered onto table kinds (one lowering for every importer).

``softmax(Q K^T * scale + mask) V`` becomes ``matmul`` (transpose_b) -> ``mul`` ->
mask -> ``softmax`` -> ``matmul``, so both products reach the numeric backend and
the timing model with their true shapes. Masks: additive float (``add``), boolean
(True = attend: ``masked_fill`` with -inf where the mask is 0), causal (a constant
lower-triangular mask, top-left aligned as PyTorch's ``is_causal``). Grouped-query
attention repeats each key/value head ``Hq / Hkv`` times (reshape, expand, reshape).
"""

from __future__ import annotations

import math

import numpy as np


def _repeat_heads(b, t, shape, rep, name):
    """(B, Hkv, S, E) -> (B, Hkv*rep, S, E) by repeating each head ``rep`` times."""
    _, h, s, e = shape
    t = b.add("reshape", [t], name=name + "_r1", attrs={"shape": [-1, h, 1, s, e]})
    t = b.add("expand", [t], name=name + "_ex", attrs={"shape": [-1, -1, rep, -1, -1]})
    return b.add("reshape", [t], name=name + "_r2", attrs={"shape": [-1, h * rep, s, e]})


def emit_sdpa(b, q, k, v, *, q_shape, k_shape, name, mask=None, mask_is_bool=False, causal=False,
              scale=None, gqa=False):
    """Emit attention into GraphBuilder ``b``; ``q``, ``k``, ``v`` and ``mask`` are tensor names.

    ``q_shape``/``k_shape`` are the full shapes (batch entry any value) used for the
    head count, lengths and the default scale 1/sqrt(E). Returns the output tensor name.
    """
    e = int(q_shape[-1])
    hq, hk = int(q_shape[-3]) if len(q_shape) >= 3 else 1, int(k_shape[-3]) if len(k_shape) >= 3 else 1
    if hq != hk:
        if not gqa and hq % hk:
            raise ValueError(f"query heads {hq} and key heads {hk} do not match")
        if len(q_shape) != 4 or hq % hk:
            raise ValueError(f"grouped-query attention needs 4-d (B, H, L, E) operands with Hq % Hkv == 0, "
                             f"got {list(q_shape)} and {list(k_shape)}")
        k = _repeat_heads(b, k, k_shape, hq // hk, name + "_k")
        v = _repeat_heads(b, v, k_shape, hq // hk, name + "_v")
    scale = 1.0 / math.sqrt(e) if scale is None else float(scale)
    s = b.add("matmul", [q, k], name=name + "_qk", attrs={"transpose_b": True})
    s = b.add("mul", [s], name=name + "_scale", attrs={"scalar": scale})
    if causal:
        ql, kl = int(q_shape[-2]), int(k_shape[-2])
        drop = ~np.tril(np.ones((ql, kl), dtype=bool))
        m = b.add("constant", [], name=name + "_causal", params={"value": drop.astype(np.float32)})
        s = b.add("masked_fill", [s, m], name=name + "_causalmask", attrs={"value": "-inf"})
    if mask is not None:
        if mask_is_bool:
            drop = b.add("eq", [mask], name=name + "_maskinv", attrs={"scalar": 0.0})
            s = b.add("masked_fill", [s, drop], name=name + "_mask", attrs={"value": "-inf"})
        else:
            s = b.add("add", [s, mask], name=name + "_mask")
    p = b.add("softmax", [s], name=name + "_softmax", attrs={"axis": -1})
    return b.add("matmul", [p, v], name=name)
