"""Slow, obviously-correct convolution and pooling by explicit loops (test oracle)."""

import numpy as np


def conv2d_ref(x, w, b, stride, padding, dilation):
    """x (B,C,H,W), w (O,C,kh,kw); padding [top,left,bottom,right]; float64 loops."""
    B, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.zeros((B, C, H + padding[0] + padding[2], W + padding[1] + padding[3]))
    xp[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W] = x
    Ho = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((B, O, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            for a in range(kh):
                for c in range(kw):
                    patch = xp[:, :, i * stride[0] + a * dilation[0], j * stride[1] + c * dilation[1]]
                    y[:, :, i, j] += patch @ w[:, :, a, c].T.astype(np.float64)
    if b is not None:
        y += b[None, :, None, None]
    return y
