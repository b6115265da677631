"""Energy meters: zeus-backed NVML / Apple IOReport / RAPL, a TDP estimate, and a null meter that
says why nothing could be measured. Importing this package imports neither torch nor zeus."""

from collectors.meters.base import EstimateMeter, Meter, NullMeter, Reading, idle_power

__all__ = ["EstimateMeter", "Meter", "NullMeter", "Reading", "idle_power"]
