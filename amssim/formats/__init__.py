"""Number formats: narrow floats, OCP FP8, INT, BFP, MX, posits, log-posits, ABFP.

```python
from amssim.formats import quantize, get_format, digital_matmul
q = quantize(x, "mxfp8_e4m3", axis=-1, rounding="nearest_even", seed=None)
spec = get_format("posit8_1"); spec.bits_per_element
y = digital_matmul(x, w, "int8", "int8_pc")
```
Names: see :func:`list_formats` (``amssim formats`` on the command line).
"""

from __future__ import annotations

from .abfp import AbfpSpec, abfp_encode
from .bfp import BfpSpec
from .digital import digital_matmul, quantize_weights
from .intq import IntSpec
from .minifloat import FloatSpec, Fp32Spec
from .mx import MxSpec
from .posit import TaperedSpec
from .registry import FormatFamily, NonFiniteInputError, get_format, list_formats, quantize
from .rounding import RoundingMode
from .spec import FormatSpec

__all__ = [
    "quantize", "get_format", "list_formats", "digital_matmul", "quantize_weights", "RoundingMode",
    "FormatSpec", "FloatSpec", "Fp32Spec", "IntSpec", "BfpSpec", "MxSpec", "TaperedSpec",
    "AbfpSpec", "FormatFamily", "NonFiniteInputError", "abfp_encode",
]

