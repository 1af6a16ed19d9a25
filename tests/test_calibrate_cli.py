"""`amssim calibrate` end to end and every bad-input path (exit codes 2 / 1)."""

import json
import os
import tracemalloc

import numpy as np
import pytest

from amssim.calibrate import CalibrateConfig, GeneratorSource, calibrate
from amssim.calibrate.loaders import Metadata
from amssim.cli import main
from amssim.config import load_device


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    d = tmp_path_factory.mktemp("ex")
    assert main(["calibrate", "--synthetic", str(d)]) == 0
    return d


def test_synthetic_to_device_and_report(example, tmp_path, capsys):
    out, rep = tmp_path / "dev.toml", tmp_path / "rep"
    rc = main(["calibrate", str(example / "paired.npz"), "--meta", str(example / "meta.toml"),
               "--transfer", str(example / "transfer.npz"), "--out", str(out), "--report", str(rep)])
    assert rc == 0
    dev = load_device(str(out))  # what `amssim simulate --device FILE` does
    cfg = dev.abfp_config()
    assert dev.provenance.kind == "calibration"
    assert dev.provenance.calibration_run.startswith("sha256:")
    assert dev.noise.kind == "student_t" and cfg.noise == "student_t"
    assert len(cfg.channel_gain_error) == 16 and len(cfg.adc_inl_lsb) == 255
    assert dev.energy == load_device("abfp-paper").energy  # base device kept
    s = json.load(open(rep / "summary.json"))
    assert s["chosen"] == "student_t" and len(s["fits"]) == 6
    assert all("ks" in f and "aic" in f and "bic" in f for f in s["fits"])
    for f in s["figures"].values():
        assert (rep / f).stat().st_size > 1000


def test_simulate_accepts_calibrated_device(example, tmp_path, capsys):
    out = tmp_path / "dev.toml"
    assert main(["calibrate", str(example / "paired.npz"), "--meta", str(example / "meta.toml"),
                 "--out", str(out), "--families", "gaussian,student_t"]) == 0
    digits = os.path.join(os.path.dirname(__file__), "..", "workloads", "digits-resnet")
    capsys.readouterr()
    assert main(["simulate", digits, "--device", str(out), "--set", "run.limit=4",
                 "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] is not None


def test_csv_input(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.integers(-100, 100, 5000)
    ch = rng.integers(0, 4, x.size)
    obs = np.rint(x * (1 + 0.01 * ch) + ch + rng.normal(0, 1.0, x.size))
    p = tmp_path / "d.csv"
    with open(p, "w") as fh:
        fh.write("channel,expected,observed\n")
        for c, e, o in zip(ch, x, obs):
            fh.write(f"{c},{e},{o}\n")
    out = tmp_path / "d.toml"
    assert main(["calibrate", str(p), "--out", str(out), "--poly-degree", "0"]) == 0
    dev = load_device(str(out))
    assert len(dev.converters.channel_offset_lsb) == 4
    assert abs(dev.converters.channel_offset_lsb[3] - 3.0) < 0.2


def _write(path, data):
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return str(path)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


GOOD = np.arange(-50, 50, dtype=np.float64).reshape(10, 10)


@pytest.mark.parametrize("make,needle", [
    (lambda d: _npz(d / "a.npz", expected=GOOD, observed=GOOD[:5]), "shapes differ"),
    (lambda d: _npz(d / "a.npz", expected=GOOD, observed=np.where(GOOD == 3, np.nan, GOOD)),
     "non-finite"),
    (lambda d: _npz(d / "a.npz", expected=GOOD.astype(str), observed=GOOD), "non-numeric"),
    (lambda d: _npz(d / "a.npz", expected=np.zeros((0, 3)), observed=np.zeros((0, 3))), "empty"),
    (lambda d: _npz(d / "a.npz", expected=GOOD), "missing field 'observed'"),
    (lambda d: _write(d / "a.npz", b""), "empty file"),
    (lambda d: _write(d / "a.npz", b"garbage"), "not an .npz"),
    (lambda d: _write(d / "a.csv", "expected,observed\n1,2\n3,x\n"),
     "non-numeric value 'x' on line 3"),
    (lambda d: _write(d / "a.csv", ""), "empty file"),
    (lambda d: _write(d / "a.csv", "expected,observed\n"), "empty"),
    (lambda d: _write(d / "a.csv", "exp,obs\n1,2\n"), "missing field"),
    (lambda d: str(d / "nothing.npz"), "no such file"),
])
def test_bad_paired_input_exit_2(tmp_path, capsys, make, needle):
    path = make(tmp_path)
    out = tmp_path / "dev.toml"
    assert main(["calibrate", path, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and os.path.basename(path) in err
    assert not out.exists()


def test_out_of_adc_range_and_bad_meta_exit_2(tmp_path, capsys):
    p = _npz(tmp_path / "a.npz", expected=GOOD * 3, observed=GOOD * 3)  # up to 147 > 127
    meta = tmp_path / "m.toml"
    meta.write_text("adc_bits = 8\n")
    assert main(["calibrate", p, "--meta", str(meta)]) == 2
    err = capsys.readouterr().err
    assert "'observed'" in err and "outside the ADC range +-127" in err and "a.npz" in err
    meta.write_text("adc_bits = 40\n")
    assert main(["calibrate", p, "--meta", str(meta)]) == 2
    assert "adc_bits" in capsys.readouterr().err
    meta.write_text("bits = 8\n")
    assert main(["calibrate", p, "--meta", str(meta)]) == 2
    meta.write_text("channel_axis = 5\n")
    assert main(["calibrate", p, "--meta", str(meta)]) == 2
    assert "channel_axis" in capsys.readouterr().err


def test_bad_transfer_exit_2(tmp_path, capsys):
    p = _npz(tmp_path / "s.npz", codes=np.arange(10.0), observed=np.zeros((3, 9)))
    assert main(["calibrate", "--transfer", p]) == 2
    assert "'observed'" in capsys.readouterr().err
    assert main(["calibrate"]) == 2


@pytest.mark.parametrize("observed", [
    lambda e: -e,  # inverted channel: gain <= 0
    lambda e: np.where(e > 0, 127.0, -127.0),  # everything clipped at full scale
])
def test_data_that_cannot_be_fitted_exit_2_no_device(tmp_path, capsys, observed):
    """An inverted channel or data clipped everywhere is caused by the input: exit 2 (a fit
    that fails to converge on usable data is a run failure, exit 1), and no device written."""
    rng = np.random.default_rng(0)
    e = rng.uniform(-100, 100, 2000)
    p = _npz(tmp_path / "a.npz", expected=e, observed=np.rint(observed(e)))
    out = tmp_path / "dev.toml"
    assert main(["calibrate", p, "--out", str(out), "--report", str(tmp_path / "r")]) == 2
    assert "error" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def _chunks(n_total, chunk, seed):
    def gen():
        rng = np.random.default_rng(seed)
        for start in range(0, n_total, chunk):
            m = min(chunk, n_total - start)
            x = rng.uniform(-100, 100, m)
            yield x, np.rint(1.01 * x + 0.5 + 0.7 * rng.standard_t(5, m))
    return gen


def _streaming_run(n_total, chunk):
    cfg = CalibrateConfig(chunk_elements=chunk, reservoir_size=100_000, mle_size=20_000,
                          poly_degree=0, families=("gaussian", "student_t", "empirical"))
    tracemalloc.start()
    res = calibrate(source=GeneratorSource(factory=_chunks(n_total, chunk, 0)),
                    meta=Metadata(adc_bits=8), cfg=cfg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return res, peak


def test_streaming_bounded_memory():
    # 5e6 samples in 2.5e5 chunks: every sample counted, traced peak < 64 MB
    # (the samples alone are 80 MB as float64 pairs)
    res, peak = _streaming_run(5_000_000, 250_000)
    assert res.noise_res.n_total == 5_000_000 and res.noise_res.hist_counts.sum() == 5_000_000
    assert peak < 64e6, peak
    assert res.best.family == "student_t"
    assert abs(res.best.params["lsb"] / 0.7 - 1) < 0.05
    assert res.noise_res.moments["n"] == 5_000_000


@pytest.mark.slow
def test_streaming_1e8_samples():
    # the figure: 1e8 error samples, same memory bound as 5e6
    res, peak = _streaming_run(100_000_000, 1_000_000)
    assert res.noise_res.n_total == 100_000_000
    assert peak < 150e6, peak
