"""Reproducible numeric studies (e.g. the ABFP paper's Appendix-A error study)."""

from .appendix_a import appendix_a_data, run_appendix_a

__all__ = ["appendix_a_data", "run_appendix_a"]
