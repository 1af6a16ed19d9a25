"""Grid arguments and TOML sweep files -> points (amssim.sweep.grid) and their CLI errors."""

import itertools

import pytest

from amssim.cli import main
from amssim.errors import ConfigError
from amssim.sweep.grid import (
    build_points,
    expand_grid,
    load_sweep_file,
    parse_grid_arg,
    parse_set_arg,
    seed_list,
)

FAKE = ["--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"]


def test_parse_grid_arg():
    assert parse_grid_arg("numerics.gain=1,2, 4") == ("numerics.gain", ["1", "2", "4"])
    assert parse_grid_arg(" noise.kind = uniform") == ("noise.kind", ["uniform"])


@pytest.mark.parametrize(
    "bad", ["numerics.gain", "=1,2", "numerics.gain=", "numerics.gain=1,,2", "a..b=1", "a b=1", "g=1,1"]
)
def test_parse_grid_arg_rejects(bad):
    with pytest.raises(ConfigError, match="--grid"):
        parse_grid_arg(bad)


def test_parse_set_arg():
    assert parse_set_arg("noise.lsb=0.5") == ("noise.lsb", "0.5")
    for bad in ("noise.lsb", "=3", "noise..lsb=1", "noise lsb=1"):  # empty values: tests/test_set_parser.py
        with pytest.raises(ConfigError, match="--set"):
            parse_set_arg(bad)


def test_expand_grid_is_cartesian_product_in_order():
    grid = [("a", ["1", "2"]), ("b", ["x", "y", "z"])]
    pts = expand_grid(grid)
    assert pts == [{"a": a, "b": b} for a, b in itertools.product(["1", "2"], ["x", "y", "z"])]
    assert expand_grid([]) == [{}]
    with pytest.raises(ConfigError, match="more than once"):
        expand_grid([("a", ["1"]), ("a", ["2"])])
    with pytest.raises(ConfigError, match="no values"):
        expand_grid([("a", [])])


def test_build_points_crosses_points_with_grid_and_adds_fixed():
    pts = build_points(grid=[("g", ["1", "2"])], fixed={"f": "0"}, points=[{"b": "6"}, {"b": "8"}])
    assert pts == [
        {"f": "0", "b": "6", "g": "1"},
        {"f": "0", "b": "6", "g": "2"},
        {"f": "0", "b": "8", "g": "1"},
        {"f": "0", "b": "8", "g": "2"},
    ]
    with pytest.raises(ConfigError, match="set both"):
        build_points(grid=[("g", ["1"])], fixed={"g": "2"})
    with pytest.raises(ConfigError, match="twice"):
        build_points(points=[{"b": "6"}, {"b": "6"}])


def test_seed_list():
    assert seed_list(3) == (0, 1, 2)
    assert seed_list(2, base=5) == (5, 6)
    assert seed_list([4, 1]) == (4, 1)
    for bad in (0, -1, [], [1, 1], [-1], True, ["a"]):
        with pytest.raises(ConfigError):
            seed_list(bad)


def test_sweep_file(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        'trace = "wl/x"\ndevice = "dev"\nmode = "timing"\nseeds = [3, 1]\n'
        '[set]\n"noise.lsb" = 0.5\n'
        '[grid]\n"numerics.tile_width" = [8, 128]\nnumerics.gain = [1, 2.5]\n'
        '[[points]]\nnoise.kind = "uniform"\n[[points]]\n"noise.kind" = "gaussian"\n'
    )
    sf = load_sweep_file(f)
    assert (sf.trace, sf.device, sf.mode, sf.seeds) == ("wl/x", "dev", "timing", (3, 1))
    assert sf.fixed == {"noise.lsb": "0.5"}
    assert sf.grid == (("numerics.tile_width", ("8", "128")), ("numerics.gain", ("1", "2.5")))
    assert sf.points == ({"noise.kind": "uniform"}, {"noise.kind": "gaussian"})
    pts = build_points(grid=sf.grid, fixed=sf.fixed, points=sf.points)
    assert len(pts) == 8 and all(p["noise.lsb"] == "0.5" for p in pts)


@pytest.mark.parametrize(
    "text,match",
    [
        ("trace = 1\n", "non-empty string"),
        ("mode = 'fast'\n", "mode"),
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("[grid]\na = []\n", "empty list"),
        ("[grid]\na = [1, 1]\n", "twice"),
        ("[grid]\na = [[1]]\n", "type list"),
        ("[grid]\na = [nan]\n", "not finite"),
        ("seeds = 0\n", "seeds"),
        ("points = 3\n", "array of tables"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_sweep_file_rejects(tmp_path, text, match):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_sweep_file(f)
    assert "bad.toml" in str(info.value)


def test_sweep_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_sweep_file(tmp_path / "nope.toml")


def _cli(tmp_path, *extra):
    return main(["sweep", "wl/x", "--device", "dev", "--store", str(tmp_path / "s.jsonl"),
                 "--workers", "1", *FAKE, *extra])


def test_cli_unknown_grid_key_exits_2_and_runs_nothing(tmp_path, capsys):
    assert _cli(tmp_path, "--grid", "numerics.gain=1,2", "--grid", "numerics.nope=1") == 2
    assert "numerics.nope" in capsys.readouterr().err
    assert not (tmp_path / "s.jsonl").exists()  # validated before the store is created


def test_cli_wrong_value_type_exits_2(tmp_path, capsys):
    assert _cli(tmp_path, "--grid", "numerics.tile_width=8,wide") == 2
    err = capsys.readouterr().err
    assert "numerics.tile_width" in err and "wide" in err


def test_cli_empty_grid_exits_2(tmp_path, capsys):
    assert _cli(tmp_path) == 2
    assert "empty sweep" in capsys.readouterr().err
    assert _cli(tmp_path, "--grid", "numerics.gain=") == 2
    assert _cli(tmp_path, "--grid", "numerics.gain=1", "--seeds", "0") == 2


def test_cli_bad_sweep_file_exits_2(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text("[grid]\n'numerics.gain' = []\n")
    assert _cli(tmp_path, "--sweep-file", str(f)) == 2
    assert "s.toml" in capsys.readouterr().err


def test_cli_sweep_file_end_to_end_and_dry_run(tmp_path, capsys):
    import json

    from amssim.sweep import ResultStore

    f = tmp_path / "s.toml"
    f.write_text('trace = "wl/x"\ndevice = "dev"\nseeds = 2\n[set]\n"noise.lsb" = 0.5\n'
                 '[grid]\nnumerics.gain = [1, 8]\n')
    store = tmp_path / "s.jsonl"
    args = ["sweep", "--sweep-file", str(f), "--store", str(store), "--workers", "1", "--json", *FAKE]
    assert main(args + ["--dry-run"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [p["seeds_to_run"] for p in plan["points"]] == [[0, 1], [0, 1]]
    assert not store.exists()
    assert main(args + ["--grid", "numerics.tile_width=8,128"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ran"] == 8
    rows = ResultStore(store).rows
    assert {r["device"] for r in rows} == {"dev"} and {r["seed"] for r in rows} == {0, 1}
    assert all(r["overrides"]["noise.lsb"] == "0.5" for r in rows)
    assert main(args + ["--grid", "numerics.tile_width=8,128", "--dry-run"]) == 0
    assert all(p["seeds_to_run"] == [] for p in json.loads(capsys.readouterr().out)["points"])
    # the same key from the file and the command line is an error
    assert main(args + ["--grid", "numerics.gain=2"]) == 2
