"""Build-time generators of ``core/noise/data`` tables; never imported by the noise library at run time."""
