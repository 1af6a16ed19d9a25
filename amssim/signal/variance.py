"""placeholder"""
def abfp_error_variance(*a, **k):
    raise NotImplementedError
def saturation_fraction(*a, **k):
    raise NotImplementedError
