"""Fuzzing the amssim CLI with hostile and careless inputs (issue 14).

Every case mutates one input kind (trace manifests, .npy and .npz files, device TOMLs,
run and sweep files, sweep stores, lab data, ONNX and SCALE-Sim files, CLI options and
output paths), runs the real CLI in a subprocess under an address-space limit and a
timeout, and checks: exit code 0 or 2 (input-caused failures), no traceback, no memory
kill, no hang, and no existing file changed.

``python -m tests.fuzz --cases 10000`` runs a campaign; ``tests/fuzz/test_fuzz_fast.py``
runs a fast slice in the normal test suite.
"""
