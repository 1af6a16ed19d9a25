"""Model zoo through ONNX: the architectures of ``test_model_zoo_torch`` (Hugging Face
models built from tiny configs with random weights, nothing downloaded, and the
plain-torch SegNet-style and grouped CNNs) exported with ``torch.onnx.export``
(dynamic batch axis) and imported with ``from_onnx``.

Oracles: PyTorch's and onnxruntime's outputs (identical argmax at every position,
all outputs within ``RTOL`` of the output's largest magnitude), PyTorch's FLOP counter
for the MAC count, and labels equal to PyTorch's argmax (so the float32 metric of the
trace is exactly 1); the finetune interpreter (torch) runs the imported trace alike. Then
``amssim simulate`` runs in accuracy and in timing mode.

Exporters: the TorchScript exporter (``dynamo=False``, fast) where it handles the model
(the LLaMA-style model with eager attention: it refuses grouped-query SDPA), the dynamo
exporter for the SegNet-style net (max_unpool, which it lowers to a ScatterND over flat
indices). The slow test runs the others through the dynamo exporter (SDPA attention).
"""

import contextlib
import io
import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from test_model_zoo_torch import ZOO, build  # noqa: E402  (one zoo definition for both importers)

from amssim.cli import main  # noqa: E402
from amssim.trace import Float32Backend, evaluate, from_onnx  # noqa: E402

N_EVAL = 6
#: float32 agreement: max |amssim - reference| <= RTOL * max |reference| (same float32 math, other order)
RTOL = 1e-4
#: exporter per model in the default run: TorchScript where it works (fast), dynamo otherwise
DYNAMO_ONLY = {"segnet"}  # max_unpool: the TorchScript exporter refuses it
MASKED = {"bert", "distilbert"}  # also fed a padding attention mask


class Full(torch.nn.Module):
    """The model's full output tensor (logits at every position, hidden states of encoders)."""

    def __init__(self, m, masked):
        super().__init__()
        self.m, self.masked = m, masked

    def forward(self, x, mask=None):
        o = self.m(input_ids=x, attention_mask=mask) if self.masked else self.m(x)
        return o.logits if hasattr(o, "logits") else getattr(o, "last_hidden_state", o)


def _reinit_cnn(m):
    """Torch's default init for conv/linear layers and random batch-norm statistics, so CNN
    outputs have unit scale (Hugging Face's init shrinks them towards 0 through depth)."""
    g = torch.Generator().manual_seed(3)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            mod.reset_parameters()
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.normal_(0.0, 0.1, generator=g)
                mod.running_var.uniform_(0.5, 2.0, generator=g)


def _build(name):
    """The shared zoo entry; MobileNetV2 thinner than in the torch zoo (its depthwise convs are
    one GEMM per channel in accuracy mode: fewer channels keep this module fast)."""
    if name == "mobilenetv2":
        cfg = T.MobileNetV2Config(image_size=32, depth_multiplier=0.1, min_depth=2, expand_ratio=2.0, num_labels=5)
        return T.MobileNetV2ForImageClassification(cfg), torch.randn(2, 3, 32, 32)
    return build(name)


def _model(name, eager_attention=False):
    torch.manual_seed(0)
    m, x = _build(name)
    if eager_attention and hasattr(m, "set_attn_implementation"):
        m.set_attn_implementation("eager")  # the TorchScript exporter refuses grouped-query SDPA
    if name in ("resnet", "mobilenetv2"):
        _reinit_cnn(m)
    model = Full(m.eval(), name in MASKED).eval()
    gen = torch.Generator().manual_seed(1)
    if x.dtype == torch.int64:
        xs = [torch.randint(0, 100, (N_EVAL,) + tuple(x.shape[1:]), generator=gen)]
        if name in MASKED:
            mask = torch.ones_like(xs[0])
            for i in range(N_EVAL):  # padding at the end of most rows
                mask[i, 8 + i:] = 0
            xs.append(mask)
    else:
        xs = [torch.randn((N_EVAL,) + tuple(x.shape[1:]), generator=gen)]
    return model, xs


def _export(model, xs, path, dynamo):
    names = ["x", "mask"][:len(xs)]
    ex = tuple(x[:2] for x in xs)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            b = torch.export.Dim("batch", min=1, max=1024)
            torch.onnx.export(model, ex, str(path), input_names=names, output_names=["y"], dynamo=True,
                              dynamic_shapes=tuple({0: b} for _ in xs), opset_version=18, verbose=False)
        else:
            torch.onnx.export(model, ex, str(path), input_names=names, output_names=["y"], dynamo=False,
                              opset_version=17, dynamic_axes={n: {0: "batch"} for n in names + ["y"]})


def _eager_macs(name, xs):
    """MACs of one sample by PyTorch's FLOP counter (eager attention: its SDPA counts no FLOPs),
    plus the zeros a transposed convolution's zero-insertion lowering multiplies (the trace
    counts them, PyTorch does not): C_in * C_out * k^2 * (output - input positions)."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    m, _ = _build(name)
    if hasattr(m, "set_attn_implementation"):
        m.set_attn_implementation("eager")
    model = Full(m.eval(), name in MASKED).eval()
    extra = []

    def hook(mod, inp, out):
        cin, cout_g = mod.weight.shape[:2]
        extra.append(cin * cout_g * int(np.prod(mod.weight.shape[2:])) * (out[0, 0].numel() - inp[0][0, 0].numel()))

    for mod in model.modules():
        if isinstance(mod, torch.nn.ConvTranspose2d):
            mod.register_forward_hook(hook)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(*[x[:1] for x in xs])
    return fc.get_total_flops() // 2 + sum(extra)


def _import(name, tmp, dynamo):
    model, xs = _model(name, eager_attention=not dynamo)
    path = tmp / f"{name}.onnx"
    _export(model, xs, path, dynamo)
    with torch.no_grad():
        ref = model(*xs).numpy()
    ev = [x.numpy() for x in xs]
    dense = ref.ndim == 4  # segmentation maps (N, classes, H, W)
    labels, metric = (ref.argmax(1), "top1_dense" if dense else "top1") if ref.ndim in (2, 4) else (None, None)
    tr = from_onnx(path, ev if len(ev) > 1 else ev[0], labels, tmp / f"{name}_trace", name=name, metric=metric,
                   reference=True)
    return tr, ref, xs


def _check_float32(tr, ref):
    y = evaluate(tr, Float32Backend(), keep_outputs=True, batch_size=4).outputs
    assert y.shape == ref.shape
    ax = 1 if ref.ndim in (2, 4) else -1  # class axis: 1 for (N, C) and (N, C, H, W), last for sequences
    np.testing.assert_array_equal(y.argmax(ax), ref.argmax(ax))
    assert np.abs(y - ref).max() <= RTOL * np.abs(ref).max()
    ort_y = tr.reference(tr.outputs[0])  # onnxruntime on the exported file
    np.testing.assert_array_equal(y.argmax(ax), np.asarray(ort_y).argmax(ax))
    assert np.abs(y - ort_y).max() <= RTOL * np.abs(ref).max()
    if tr.metric is not None:
        assert tr.fp32_metric == 1.0
    # the finetune interpreter (torch implementations of the same op kinds) runs the trace alike
    from amssim.finetune.torch_trace import TorchTrace

    with torch.no_grad():
        yt = TorchTrace(tr)({s["name"]: np.asarray(tr.data_input(s["name"])) for s in tr.inputs}).numpy()
    np.testing.assert_array_equal(yt.argmax(ax), ref.argmax(ax))
    assert np.abs(yt - y).max() <= RTOL * np.abs(ref).max()


def _simulate(tr_dir, *extra):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["simulate", str(tr_dir), "--json", "--no-progress", "--set", "run.limit=1", *extra])
    assert code == 0
    return json.loads(out.getvalue())


@pytest.mark.parametrize("name", ZOO)
def test_zoo_onnx(tmp_path, name):
    tr, ref, xs = _import(name, tmp_path, dynamo=name in DYNAMO_ONLY)
    _check_float32(tr, ref)
    assert tr.macs() == _eager_macs(name, xs)  # every GEMM reaches the trace with its true shape
    if name == "grouped-cnn":  # the depthwise 3x3: 16 GEMMs of K = 9, N = 1 per sample
        dw = [g for g in tr.gemm_ops() if g.count == 16]
        assert dw and (dw[0].k, dw[0].n) == (9, 1)
    acc = _simulate(tmp_path / f"{name}_trace")
    assert acc["macs"] == tr.macs()
    assert [L["name"] for L in acc["layers"]] == [g.name for g in tr.gemm_ops()]
    if tr.metric is not None:
        assert acc["fp32_accuracy"] == 1.0 and 0.0 <= acc["accuracy"] <= 1.0
    tim = _simulate(tmp_path / f"{name}_trace", "--mode", "timing")
    assert tim["mode"] == "timing" and tim["macs"] == tr.macs()
    assert tim["cycles"] > 0 and tim["energy_j"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in DYNAMO_ONLY])
def test_zoo_onnx_dynamo_exporter(tmp_path, name):
    tr, ref, xs = _import(name, tmp_path, dynamo=True)
    _check_float32(tr, ref)
    assert tr.macs() == _eager_macs(name, xs)
