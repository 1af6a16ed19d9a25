"""Parametric MAC datapath model of a digital device: energy and area per format.

Built only from the published per-operation figures of the device's ``[datapath]``
section (Horowitz, ISSCC 2014, 45 nm for the shipped presets), scaled by
``energy_scale_rel`` / ``area_scale_rel``. With ``add8``, ``add32`` the 8- and 32-bit
integer adders, ``mul8`` the 8-bit multiplier and ``fadd32``, ``fmul32`` the fp32
adder and multiplier (energies or areas alike):

* integer add of width w: the line through the two adder points,
  ``add(w) = add8 + (w - 8) (add32 - add8) / 24``;
* array multiplier of a x b bits: ``mul(a, b) = mul8 a b / 64`` (grows as (mantissa
  bits + 1)^2 for equal operands);
* float multiply of p-bit significands (hidden bit included) and e-bit exponents:
  ``mul(p, p) + add(e) + nrm p``, where ``nrm`` (normalise/round per significand bit)
  is what the fp32 multiplier costs beyond its 24x24 array and 8-bit exponent adder:
  ``nrm = (fmul32 - mul(24, 24) - add(8)) / 24``;
* float add of p-bit significands: ``add(p) + aln p``, where ``aln`` (alignment and
  normalisation per bit) is the fp32 adder beyond its 24-bit integer adder:
  ``aln = (fadd32 - add(24)) / 24`` -- so fp32 add and multiply are reproduced
  exactly and fp16 (p = 11, e = 5) is a held-out check (tests).

Per MAC, by family of the operands (``formats`` names):

* ``int`` (per-tensor or per-channel scale): ``mul(b, b)`` + accumulate
  ``add(accumulator_bits)``; one fp32 multiply per output (dequantisation).
* ``float`` (bf16, fp8, fp_eXmY, fp32): float multiply + fp32 accumulate (``fadd32``).
* ``mx`` / ``bfp`` / ``abfp`` (a block of G elements shares a scale): element
  multiply (integer array; MX float elements add their exponents, ``add(e)``, and
  align the product into the block sum, ``aln (pa + pb)``), block sum in a fixed-point
  adder of width min(accumulator_bits, pa + pb + ceil(log2 G) [+ exponent range for
  MX floats]); once per block: combine the scales (MX/BFP: ``add(8)`` of the shared
  exponents; ABFP: two bf16 multiplies) and accumulate the block result in fp32
  (``fadd32``).
* ``posit`` / ``logposit``: each operand decoded (leading-run detect + shift of the
  n-bit word, costed as alignment ``aln n``); posits then multiply as floats, log
  posits add their log values (``add(n)``) and convert to linear for the fp32
  accumulation (``aln p``); fp32 accumulate.

Component names of the breakdown: ``decoder``, ``multiplier``, ``align_norm``,
``accumulator`` (per MAC), ``block_scale`` (per block), ``output_scale`` (per output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: per-MAC components, then per-block and per-output ones
MAC_COMPONENTS = ("decoder", "multiplier", "align_norm", "accumulator")
ALL_COMPONENTS = (*MAC_COMPONENTS, "block_scale", "output_scale")


@dataclass(frozen=True, kw_only=True)
class Operand:
    """What the datapath sees of one operand format."""

    family: str  #: int | float | mx_int | mx_float | bfp | abfp | posit | logposit
    sig_bits: int  #: multiplier width (significand incl. hidden bit, or integer bits)
    exp_bits: int = 0  #: exponent field the multiplier adds (0 for integers)
    block: int = 0  #: elements sharing a scale (0 = none)
    word_bits: int = 0  #: encoded width (decoders)


def operand(name: str) -> Operand:
    """The :class:`Operand` of a format name (``amssim formats``) or ``fp32``."""
    if name == "fp32":
        return Operand(family="float", sig_bits=24, exp_bits=8, word_bits=32)
    from ..formats import get_format

    f: Any = get_format(name)  # the families' specs carry different fields
    fam = f.family
    if fam == "int":
        return Operand(family="int", sig_bits=f.bits, word_bits=f.bits)
    if fam == "float":
        return Operand(family="float", sig_bits=f.man_bits + 1, exp_bits=f.exp_bits,
                       word_bits=1 + f.exp_bits + f.man_bits)
    if fam == "mx":
        el = f.element
        if el.startswith("int"):
            b = int(el[3:])
            return Operand(family="mx_int", sig_bits=b, block=f.group, word_bits=b)
        e, m = (int(x) for x in el.split("_e", 1)[1].split("m"))
        return Operand(family="mx_float", sig_bits=m + 1, exp_bits=e, block=f.group,
                       word_bits=1 + e + m)
    if fam == "bfp":
        return Operand(family="bfp", sig_bits=f.man_bits + 1, block=f.group, word_bits=f.man_bits + 1)
    if fam == "abfp":
        return Operand(family="abfp", sig_bits=f.bits, block=f.tile, word_bits=f.bits)
    if fam in ("posit", "logposit"):
        n, es = f.n, f.es
        # most fraction bits a posit carries (sign, 2-bit regime, es) + hidden bit
        sig = max(1, n - 3 - es) + 1
        regime = max(1, math.ceil(math.log2(n)))
        return Operand(family=fam, sig_bits=sig, exp_bits=es + regime + 1, word_bits=n)
    raise ValueError(f"format {name!r}: family {fam!r} has no datapath model")


class DatapathModel:
    """Energies (``what="energy"``, J) or areas (``what="area"``, um^2) of the MAC datapath."""

    def __init__(self, datapath, what: str = "energy"):
        d = datapath
        if what == "energy":
            s = d.energy_scale_rel
            self.add8, self.add32 = d.int_add_8b_energy_j * s, d.int_add_32b_energy_j * s
            self.mul8 = d.int_mult_8b_energy_j * s
            self.fadd32, self.fmul32 = d.fp_add_32b_energy_j * s, d.fp_mult_32b_energy_j * s
        elif what == "area":
            s = d.area_scale_rel
            self.add8, self.add32 = d.int_add_8b_area_um2 * s, d.int_add_32b_area_um2 * s
            self.mul8 = d.int_mult_8b_area_um2 * s
            self.fadd32, self.fmul32 = d.fp_add_32b_area_um2 * s, d.fp_mult_32b_area_um2 * s
        else:
            raise ValueError(f"what = {what!r}: energy or area")
        self.what = what
        self.nrm = max(0.0, (self.fmul32 - self.mul(24, 24) - self.add(8)) / 24)
        self.aln = max(0.0, (self.fadd32 - self.add(24)) / 24)

    # ------------------------------------------------------------ primitives
    def add(self, width: float) -> float:
        """Integer adder of ``width`` bits (line through the 8- and 32-bit points)."""
        return self.add8 + (width - 8) * (self.add32 - self.add8) / 24

    def mul(self, a: float, b: float) -> float:
        """a x b-bit array multiplier (8 x 8 scaled by a b / 64)."""
        return self.mul8 * a * b / 64

    def fmul(self, p: int, e: int) -> float:
        """Float multiply: p-bit significands, e-bit exponents."""
        return self.mul(p, p) + self.add(e) + self.nrm * p

    def fadd(self, p: int) -> float:
        """Float add of p-bit significands (fadd(24) = the fp32 adder)."""
        return self.add(p) + self.aln * p

    # ------------------------------------------------------------ per format
    def mac(self, fmt_x: str, fmt_w: str | None = None, *, accumulator_bits: int = 32) -> dict:
        """Component -> value per MAC (``block_scale`` amortised per MAC, ``output_scale``
        per output element) for inputs in ``fmt_x`` and weights in ``fmt_w``."""
        x, w = operand(fmt_x), operand(fmt_w or fmt_x)
        fams = {x.family, w.family}
        out = dict.fromkeys(ALL_COMPONENTS, 0.0)
        pa, pb = x.sig_bits, w.sig_bits
        e = max(x.exp_bits, w.exp_bits)
        block = max(x.block, w.block)
        tapered = fams & {"posit", "logposit"}
        if tapered:
            out["decoder"] = self.aln * (x.word_bits if x.family in tapered else 0) + \
                self.aln * (w.word_bits if w.family in tapered else 0)
        if fams <= {"int"}:
            out["multiplier"] = self.mul(pa, pb)
            out["accumulator"] = self.add(accumulator_bits)
            out["output_scale"] = self.fmul(24, 8)
        elif fams & {"mx_int", "mx_float", "bfp", "abfp"} and fams <= {"mx_int", "mx_float", "bfp",
                                                                        "abfp", "int"}:
            g = max(block, 1)
            out["multiplier"] = self.mul(pa, pb) + (self.add(e) if e else 0.0)
            width = pa + pb + math.ceil(math.log2(g))
            if "mx_float" in fams:
                out["align_norm"] = self.aln * (pa + pb)
                width += 2 * (2 ** e - 1)
            out["accumulator"] = self.add(min(accumulator_bits, width))
            combine = 2 * self.fmul(8, 8) if "abfp" in fams else self.add(8)
            out["block_scale"] = (combine + self.fadd32) / g
        elif fams == {"logposit"}:
            n = max(x.word_bits, w.word_bits)
            out["multiplier"] = self.add(n)
            out["align_norm"] = self.aln * max(pa, pb)
            out["accumulator"] = self.fadd32
        else:  # float, posit, or a mix with floats: float multiply, fp32 accumulate
            p = max(pa, pb)
            out["multiplier"] = self.fmul(p, max(e, 1))
            out["accumulator"] = self.fadd32
        return out


def mac_energy_j(device, fmt_x: str | None = None, fmt_w: str | None = None) -> dict:
    """Per-MAC energy components (J) of a digital ``device`` for its (or the given) formats."""
    n = device.numerics
    fx = fmt_x or n.format
    fw = fmt_w or (n.weight_format or fx if fmt_x is None else fmt_x)
    return DatapathModel(device.datapath, "energy").mac(fx, fw, accumulator_bits=n.accumulator_bits)


def mac_area_um2(device) -> float:
    """Area of one MAC unit (PE datapath; block/output units amortised) in um^2."""
    n = device.numerics
    comp = DatapathModel(device.datapath, "area").mac(n.format, device.weight_format,
                                                      accumulator_bits=n.accumulator_bits)
    # the output dequantiser is one unit per array column, not per PE
    per_pe = sum(v for k, v in comp.items() if k != "output_scale")
    return per_pe + comp["output_scale"] / max(device.arch.array_rows, 1)
