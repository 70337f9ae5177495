"""Test set-up: eight host CPU devices, so that pmap code really runs on several devices."""
import os

# Must happen before JAX initialises its backends; CI sets the same flag.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
