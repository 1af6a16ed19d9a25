"""Slow reference of amssim.trace._kernels.diff_sums: the same sequential float64 sums."""


def diff_sums_ref(y, ref):
    s1 = s2 = sy = 0.0
    for a, r in zip(y.tolist(), ref.tolist()):
        d = float(a) - float(r)
        s1 += d
        s2 += d * d
        sy += float(r) * float(r)
    return s1, s2, sy
