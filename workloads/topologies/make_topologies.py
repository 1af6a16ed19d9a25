"""Write the shape-only SCALE-Sim topology CSVs of this directory from public layer shapes.

``resnet50.csv`` -- ResNet-50 at 224 x 224 (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016, Table 1: conv1 7x7/2 64; max-pool 3x3/2; bottleneck stages
[1x1 64, 3x3 64, 1x1 256] x3, [128, 128, 512] x4, [256, 256, 1024] x6, [512, 512, 2048] x3
with 1x1 projection shortcuts at each stage's first block; global average pool; fc 1000).
The stride-2 of stages 3-5 sits on the 3x3 convolution, as in torchvision's
``resnet50`` ("ResNet-50 v1.5", the variant used by MLPerf): 4.09 GMACs for all
convolutions + fc. SCALE-Sim convolution format, one row per convolution::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,

SCALE-Sim does not pad: its output size is ceil((H - R + S) / S). The IFMAP sizes here
are therefore the PADDED extents a convolution actually reads, (Ho - 1) * S + R (e.g.
conv1 229 = 224 + 3 padding on top, 2 of the bottom 3 padding rows unused; a 3x3 at 56
is 58), so every layer's output size and MAC count equal the real network's, and
(H - R) is a multiple of S so floor and ceil conventions agree.

``bert_large.csv`` -- BERT-Large encoder (Devlin et al. 2019: 24 layers, hidden 1024,
16 heads of 64, FFN 4096) at sequence length 384, batch 1. SCALE-Sim GEMM format
(scalesim-project/scale-sim-v2, topologies/GEMM_mnk; ``topology_utils.load_arrays_gemm``
maps a row to an IFMAP of M x K and N filters of 1 x K)::

    Layer, M, N, K,

i.e. output (M x N) = A (M x K) x B (K x N): M = tokens, K = reduction, N = outputs.
Per layer: Q, K, V and output projections (384, 1024, 1024), FFN1 (384, 4096, 1024),
FFN2 (384, 1024, 4096), and per head h the attention products QK^T (384, 384, 64) and
AV (384, 64, 384). Embeddings, pooler and task head are not included.
MACs = 24 * (4 L d^2 + 2 L d d_ff + 2 L^2 d) = 123,211,874,304 for L = 384, d = 1024,
d_ff = 4096.

Usage: ``python workloads/topologies/make_topologies.py [--out DIR]`` (numpy-free).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,")
GEMM_HEADER = "Layer, M, N, K,"

# (blocks, bottleneck width, output channels, stride of the first block) per stage (He et al. Table 1)
RESNET50_STAGES = ((3, 64, 256, 1), (4, 128, 512, 2), (6, 256, 1024, 2), (3, 512, 2048, 2))
BERT_LARGE = dict(layers=24, d_model=1024, heads=16, d_ff=4096, seq=384)


def _out(h, r, s, p):
    return (h + 2 * p - r) // s + 1


def resnet50_rows(image=224):
    """[(name, H_eff, W_eff, R, S_w, C, N, stride)] with H_eff = (Ho - 1) * stride + R."""
    rows = []

    def conv(name, h, r, c, n, s, p):
        ho = _out(h, r, s, p)
        he = (ho - 1) * s + r
        rows.append((name, he, he, r, r, c, n, s))
        return ho

    h = conv("conv1", image, 7, 3, 64, 2, 3)  # 112
    h = _out(h, 3, 2, 1)  # max-pool 3x3/2 pad 1 -> 56 (not a GEMM)
    c = 64
    for si, (blocks, width, cout, stride) in enumerate(RESNET50_STAGES, start=1):
        for b in range(blocks):
            s = stride if b == 0 else 1
            pre = f"layer{si}.{b}"
            conv(f"{pre}.conv1", h, 1, c, width, 1, 0)
            ho = conv(f"{pre}.conv2", h, 3, width, width, s, 1)
            conv(f"{pre}.conv3", ho, 1, width, cout, 1, 0)
            if b == 0:
                conv(f"{pre}.downsample", h, 1, c, cout, s, 0)
            h, c = ho, cout
    rows.append(("fc", 1, 1, 1, 1, c, 1000, 1))
    return rows


def bert_large_rows(layers=BERT_LARGE["layers"], d=BERT_LARGE["d_model"], heads=BERT_LARGE["heads"],
                    d_ff=BERT_LARGE["d_ff"], seq=BERT_LARGE["seq"]):
    """[(name, M, N, K)] of every GEMM of the BERT-Large encoder at sequence ``seq``."""
    dh = d // heads
    rows = []
    for i in range(layers):
        p = f"enc{i}"
        rows += [(f"{p}.query", seq, d, d), (f"{p}.key", seq, d, d), (f"{p}.value", seq, d, d)]
        for h in range(heads):
            rows.append((f"{p}.head{h}.qk", seq, seq, dh))
        for h in range(heads):
            rows.append((f"{p}.head{h}.av", seq, dh, seq))
        rows += [(f"{p}.attn_out", seq, d, d), (f"{p}.ffn1", seq, d_ff, d), (f"{p}.ffn2", seq, d, d_ff)]
    return rows


def _write(path: Path, header: str, rows):
    lines = [header] + [", ".join(str(v) for v in r) + "," for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help=f"output directory (default: {HERE})")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    r50 = resnet50_rows()
    _write(a.out / "resnet50.csv", CONV_HEADER, r50)
    bert = bert_large_rows()
    _write(a.out / "bert_large.csv", GEMM_HEADER, bert)
    macs_r50 = sum(((he - r) // s + 1) ** 2 * r * r * c * n for _, he, _, r, _, c, n, s in r50)
    macs_bert = sum(m * n * k for _, m, n, k in bert)
    print(f"resnet50.csv: {len(r50)} layers, {macs_r50:,} MACs")
    print(f"bert_large.csv: {len(bert)} GEMMs, {macs_bert:,} MACs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
