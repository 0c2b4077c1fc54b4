import os

# Four host devices, so sharding tests run on a CPU-only machine (must precede importing jax).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
