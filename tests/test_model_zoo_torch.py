"""Model zoo through ``from_torch``: real architectures built from small configs (random
weights, nothing downloaded) import, execute in float32 like PyTorch, simulate in
accuracy and timing mode, and take a QAT and a DNF training step.

Architectures: Hugging Face BERT, DistilBERT, GPT-2, ViT, ResNet, MobileNetV2, a
Whisper encoder and a LLaMA-style decoder (rotary tables, RMSNorm, grouped-query
attention, causal mask); plain-torch a SegNet-style encoder-decoder (max pooling with
indices, max_unpool, transposed conv, bilinear and nearest upsampling, reflect padding)
and a depthwise/grouped CNN (hardswish, GroupNorm, InstanceNorm, ReLU6).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
T = pytest.importorskip("transformers")

from amssim.finetune import finetune  # noqa: E402
from amssim.run import simulate  # noqa: E402
from amssim.trace import Float32Backend, evaluate, from_torch  # noqa: E402

N_EVAL = 6
#: float32 agreement: amssim's executor vs PyTorch (same float32 math, different order)
RTOL = 1e-4


class SegNetTiny(torch.nn.Module):
    """Encoder-decoder with pooling indices: conv-bn-relu, maxpool(indices), unpool, deconv."""

    def __init__(self, c=8, classes=4):
        super().__init__()
        self.enc1 = torch.nn.Sequential(torch.nn.Conv2d(3, c, 3, padding=1, padding_mode="reflect"),
                                        torch.nn.BatchNorm2d(c), torch.nn.ReLU())
        self.enc2 = torch.nn.Sequential(torch.nn.Conv2d(c, 2 * c, 3, padding=1), torch.nn.ReLU())
        self.pool = torch.nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = torch.nn.MaxUnpool2d(2, 2)
        self.dec = torch.nn.ConvTranspose2d(2 * c, c, 3, stride=2, padding=1, output_padding=1)
        self.up = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = torch.nn.Conv2d(c, classes, 1)

    def forward(self, x):
        a = self.enc1(x)
        p1, i1 = self.pool(a)
        b = self.enc2(p1)
        p2, i2 = self.pool(b)
        u = self.unpool(p2, i2, output_size=b.shape[2:])
        d = torch.relu(self.dec(u))  # (c, H, W) from (2c, H/2, W/2)
        d = torch.nn.functional.interpolate(d, scale_factor=0.5, mode="nearest") + p1.mean(1, keepdim=True)
        return self.head(self.up(d))


class GroupedCNN(torch.nn.Module):
    """Depthwise-separable blocks with grouped convs, GroupNorm, InstanceNorm, hardswish, ReLU6."""

    def __init__(self, classes=5):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.dw = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.gn = torch.nn.GroupNorm(4, 16)
        self.pw = torch.nn.Conv2d(16, 32, 1, groups=2)
        self.inorm = torch.nn.InstanceNorm2d(32, affine=True)
        self.conv1d = torch.nn.Conv1d(32, 32, 3, groups=8, padding=1)
        self.fc = torch.nn.Linear(32, classes)

    def forward(self, x):
        x = torch.nn.functional.hardswish(self.stem(x))
        x = torch.nn.functional.relu6(self.gn(self.dw(x)))
        x = self.inorm(self.pw(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")))
        x = self.conv1d(x.flatten(2))
        return self.fc(x.amax(-1) + torch.sigmoid(x).mean(-1))


def _lm(cfg_cls, model_cls, **kw):
    return model_cls(cfg_cls(**kw))


def build(name):
    """(model, example input) for a zoo entry (tiny configs; random weights)."""
    ids = torch.randint(0, 100, (2, 16))
    img = torch.randn(2, 3, 32, 32)
    if name == "bert":
        return T.BertForSequenceClassification(T.BertConfig(
            vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=64, num_labels=3)), ids
    if name == "distilbert":
        return T.DistilBertForSequenceClassification(T.DistilBertConfig(
            vocab_size=100, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
            num_labels=3)), ids
    if name == "gpt2":
        return T.GPT2LMHeadModel(T.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                              bos_token_id=0, eos_token_id=0)), ids
    if name == "llama":
        return T.LlamaForCausalLM(T.LlamaConfig(
            vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, bos_token_id=0, eos_token_id=0)), ids
    if name == "vit":
        return T.ViTForImageClassification(T.ViTConfig(
            image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, num_labels=5)), img
    if name == "resnet":
        return T.ResNetForImageClassification(T.ResNetConfig(
            embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1], num_labels=5)), img
    if name == "mobilenetv2":
        return T.MobileNetV2ForImageClassification(T.MobileNetV2Config(
            image_size=32, depth_multiplier=0.25, expand_ratio=2.0, num_labels=5)), img
    if name == "whisper":
        cfg = T.WhisperConfig(vocab_size=100, d_model=32, encoder_layers=2, encoder_attention_heads=4,
                              decoder_layers=1, decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                              num_mel_bins=16, max_source_positions=32, pad_token_id=0, bos_token_id=0,
                              eos_token_id=0, decoder_start_token_id=0)
        return T.WhisperModel(cfg).get_encoder(), torch.randn(2, 16, 64)
    if name == "bloom":  # ALiBi: a per-sample repeated constant (batch x heads)
        return T.BloomForCausalLM(T.BloomConfig(vocab_size=100, hidden_size=32, n_layer=2, n_head=4)), ids
    if name == "swin":  # shifted windows: roll, window partition reshapes
        return T.SwinForImageClassification(T.SwinConfig(
            image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 4], window_size=4,
            num_labels=5)), img
    if name == "efficientnet":  # SiLU, squeeze-excite, ceil-mode average pooling
        return T.EfficientNetForImageClassification(T.EfficientNetConfig(
            image_size=32, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320, num_labels=5)), img
    if name == "convnextv2":  # depthwise 7x7, channels-last LayerNorm, global response norm (vector norm)
        return T.ConvNextV2ForImageClassification(T.ConvNextV2Config(
            num_stages=2, hidden_sizes=[16, 32], depths=[1, 1], num_labels=5)), img
    if name == "t5-encoder":  # relative position buckets (integer math on constants), RMS-style norm
        return T.T5EncoderModel(T.T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                           num_heads=4)), ids
    if name == "segnet":
        return SegNetTiny(), img
    if name == "grouped-cnn":
        return GroupedCNN(), img
    raise KeyError(name)


class Logits(torch.nn.Module):
    """(N, classes) scores from any zoo model: HF outputs' logits; language models score
    the last position; encoders pool over time; dense maps pool over space."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        o = self.m(x)
        y = o.logits if hasattr(o, "logits") else getattr(o, "last_hidden_state", o)
        if y.dim() == 3:
            y = y[:, -1] if hasattr(o, "logits") else y.mean(1)
        elif y.dim() == 4:
            y = y.mean((2, 3))
        return y


ZOO = ["bert", "distilbert", "gpt2", "llama", "vit", "resnet", "mobilenetv2", "whisper", "segnet", "grouped-cnn"]
#: further architectures checked for float32 agreement only (mechanisms noted in build())
MORE = ["bloom", "swin", "efficientnet", "convnextv2", "t5-encoder"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            m, x = build(name)
            model = Logits(m.eval()).eval()
            gen = torch.Generator().manual_seed(1)
            if x.dtype == torch.int64:
                ev = torch.randint(0, 100, (N_EVAL,) + tuple(x.shape[1:]), generator=gen)
            else:
                ev = torch.randn((N_EVAL,) + tuple(x.shape[1:]), generator=gen)
            with torch.no_grad():
                ref = model(ev).numpy()
            labels = ref.argmax(1)
            out = tmp_path_factory.mktemp(name) / "trace"
            tr = from_torch(model, x, ev, labels, str(out), name=name)
            cache[name] = (tr, ref)
        return cache[name]
    return get


@pytest.mark.parametrize("name", ZOO + MORE)
def test_float32_execution_matches_pytorch(zoo, name):
    tr, ref = zoo(name)
    y = evaluate(tr, Float32Backend(), keep_outputs=True, batch_size=4).outputs
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y.argmax(1), ref.argmax(1))
    scale = max(1.0, float(np.abs(ref).max()))
    assert np.abs(y - ref).max() <= RTOL * scale
    assert tr.fp32_metric == 1.0  # labels are PyTorch's argmax


@pytest.mark.parametrize("name", ZOO)
def test_simulate_accuracy_and_timing(zoo, name):
    tr, _ = zoo(name)
    gemms = tr.gemm_ops()
    acc = simulate(tr, mode="accuracy")
    assert acc.accuracy is not None and 0.0 <= acc.accuracy <= 1.0
    assert [L.name for L in acc.layers] == [g.name for g in gemms]
    assert all(np.isfinite(L.rel_rms_error) and L.rel_rms_error > 0 for L in acc.layers)
    tim = simulate(tr, mode="timing")
    assert tim.macs == tr.macs() > 0
    assert tim.latency_s > 0 and tim.energy_j > 0


@pytest.mark.parametrize("method", ["qat", "dnf"])
@pytest.mark.parametrize("name", ZOO)
def test_finetune_one_step(zoo, name, method):
    tr, _ = zoo(name)
    with pytest.warns(UserWarning, match="optimistic"):
        res = finetune(tr, method, epochs=1, batch_size=N_EVAL, lr=1e-4, seed=0)
    assert res.epochs == 1 and len(res.losses) == 1 and np.isfinite(res.losses[0])


def test_grouped_conv_timing_shows_low_utilisation(zoo):
    """Depthwise convs are `groups` GEMMs of K = kernel size: the timing model sees them."""
    tr, _ = zoo("grouped-cnn")
    dw = next(g for g in tr.gemm_ops() if g.count == 16)
    assert (dw.k, dw.n) == (9, 1)
