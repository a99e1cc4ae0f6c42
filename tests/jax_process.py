"""Run a script in a fresh Python process (JAX fixes its device count when it starts) and
read the JSON it prints on a line starting with ``RESULT ``. Not a test module."""
import json
import os
import subprocess
import sys


def run_json(script: str, *, devices: int = 0, env=None, timeout: float = 300):
    """``script``'s RESULT JSON, run on the CPU with ``devices`` forced host devices (0:
    the flags as they are; conftest's optimisation level is kept) in ``env`` (default: this
    process's environment); a failing script fails the test with its stderr."""
    env = dict(os.environ if env is None else env, JAX_PLATFORMS="cpu")
    if devices:
        env["XLA_FLAGS"] = (f"{env.get('XLA_FLAGS', '')} "
                            f"--xla_force_host_platform_device_count={devices}")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])
