"""Task metrics of a trace (the manifest's ``metric``), scored against ``outputs[0]``.

- ``top1``: outputs[0] (N, C), labels (N,) in [0, C): argmax over the class axis 1
  equals the label; accuracy = correct / N.
- ``top1_dense``: per-position top-1 (token classification, segmentation): outputs[0]
  (N, C, d1, ...) with the class axis 1 (PyTorch ``CrossEntropyLoss`` convention; a
  model with (N, L, C) logits needs a ``transpose(1, 2)``), labels (N, d1, ...) in
  [0, C) or negative = ignored (Hugging Face's -100); accuracy = correct / counted
  positions over the whole evaluation set (not a mean of per-sample accuracies).
"""

from __future__ import annotations

import numpy as np

#: label values below this are ignored by ``top1_dense``
IGNORE_BELOW = 0


def dense_top1_counts(y, labels) -> tuple[int, int]:
    """(correct, counted) positions of one batch: ``y`` (B, C, ...), ``labels`` (B, ...)."""
    y = np.asarray(y)
    labels = np.asarray(labels)
    if y.ndim < 2 or labels.shape != y.shape[:1] + y.shape[2:]:
        raise ValueError(f"top1_dense scores outputs (B, C, ...) against labels (B, ...); got outputs "
                         f"{list(y.shape)} and labels {list(labels.shape)}")
    keep = labels >= IGNORE_BELOW
    hit = np.argmax(y, axis=1) == labels
    return int(np.count_nonzero(hit & keep)), int(np.count_nonzero(keep))
