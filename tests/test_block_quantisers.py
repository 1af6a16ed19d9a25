"""The three ABFP block quantisers agree bit for bit: the signal chain's numba kernel
(amssim.signal), the digital ABFP encoding (amssim.formats.abfp_encode) and the QAT
torch quantiser (amssim.finetune.qat). Inputs cover ragged last blocks, zero blocks,
exact rounding ties, huge and tiny magnitudes and every bit width used in the paper."""

import numpy as np
import pytest

from amssim.formats.abfp import abfp_encode
from amssim.signal import _kernels as SK
from amssim.signal.config import ScaleFormat


def _inputs(rng, rows, k, n, bits):
    x = rng.standard_normal((rows, k)).astype(np.float32) * (10.0 ** rng.integers(-8, 8, (rows, 1)))
    x = x.astype(np.float32)
    x[0, :min(n, k)] = 0.0  # a zero block (scale 1, codes 0)
    L = 2 ** (bits - 1) - 1
    if rows > 1 and L <= 255:  # exact ties: block max L (exact in bf16), so x * L / s = x, half-integers
        m = min(n, k)
        x[1, :m] = ((np.arange(m) * 37) % (2 * L) - L + 0.5).astype(np.float32)
        x[1, 0] = L
    return x


def _signal(x, n, bits):
    rows, k = x.shape
    t = -(-k // n)
    codes = np.zeros((t, rows, n), np.float64)
    scales = np.zeros((rows, t), np.float64)
    SK.quantize_blocks(x, n, 0, 2 ** (bits - 1) - 1, int(ScaleFormat.BF16), codes, scales)
    return codes.transpose(1, 0, 2).reshape(rows, t * n)[:, :k], scales


@pytest.mark.parametrize("bits,n,k", [(8, 8, 37), (8, 32, 64), (6, 128, 300), (10, 128, 129), (7, 32, 5)])
def test_signal_kernel_equals_formats_abfp_encode(rng, bits, n, k):
    x = _inputs(rng, 9, k, n, bits)
    c_sig, s_sig = _signal(x, n, bits)
    _, codes, scales = abfp_encode(x, bits, n, axis=-1)
    if bits <= 9 and k > 1:  # the ties row really holds ties, rounded half to even
        half = np.abs(x[1, 1:min(n, k)]) % 1 == 0.5
        assert half.any() and np.all(c_sig[1, 1:min(n, k)][half] % 2 == 0)
    np.testing.assert_array_equal(codes.astype(np.float64), c_sig)
    np.testing.assert_array_equal(scales.astype(np.float64), s_sig)


@pytest.mark.parametrize("bits,n,k", [(8, 8, 37), (6, 128, 300), (10, 128, 129)])
def test_signal_kernel_equals_qat_quantiser(rng, bits, n, k):
    torch = pytest.importorskip("torch")
    from amssim.finetune.qat import quantize_block

    x = _inputs(rng, 9, k, n, bits)
    c_sig, s_sig = _signal(x, n, bits)
    t = -(-k // n)
    pad = np.zeros((x.shape[0], t * n), np.float32)
    pad[:, :k] = x
    v = torch.from_numpy(pad.reshape(x.shape[0], t, n).transpose(1, 0, 2).copy())  # (T, R, n)
    codes, scales = quantize_block(v, 2 ** (bits - 1) - 1, int(ScaleFormat.BF16))
    c_qat = codes.numpy().transpose(1, 0, 2).reshape(x.shape[0], t * n)[:, :k]
    np.testing.assert_array_equal(c_qat, c_sig)
    np.testing.assert_array_equal(scales.numpy().T, s_sig)
