# SPDX-License-Identifier: MIT
"""Per-call overhead of the sandbox.py drop-in against the C CLI and raw
podman/docker, all running `true` in the same image with the same limits.

    python3 examples/python/bench_overhead.py [-n 20] [--runtime podman]
        [--image busybox:latest] [--cli build/cli/sandbox]

The four ways are interleaved (one call of each per round) so that drift in
the runtime's speed hits them equally.  Prints the median, min and max of
each, and the ratios to raw runtime and to the C CLI.
"""
import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
os.environ.setdefault("LIBSANDBOX_PATH",
                      str(REPO / "build" / "libsandbox" / "libsandbox.so"))

import sandbox  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20, help="rounds (default 20)")
    ap.add_argument("--runtime",
                    default=os.environ.get("SANDBOX_RUNTIME", "podman"))
    ap.add_argument("--image", default="busybox:latest")
    ap.add_argument("--cli", default=os.environ.get(
        "SANDBOX_CLI", str(REPO / "build" / "cli" / "sandbox")))
    a = ap.parse_args()

    rt = shutil.which(a.runtime) or a.runtime
    os.environ["SANDBOX_RUNTIME"] = rt  # sandbox_run() has no runtime arg
    devnull = subprocess.DEVNULL
    raw = [rt, "run", "--rm", "--pull=missing", "--network=none",
           "--memory=2g", "--pids-limit=512", "--cpus=2", "--cap-drop=ALL",
           "--security-opt=no-new-privileges", a.image, "sh", "-c", "true"]

    def run_raw():
        subprocess.run(raw, stdout=devnull, stderr=devnull, check=True)

    def run_dropin():
        text = sandbox.sandbox_run("true", image=a.image)
        assert text.startswith("exit=0\n"), text

    def run_dropin_cli():
        subprocess.run([sys.executable, str(HERE / "sandbox.py"),
                        "--no-workspace", "--image", a.image, "--", "true"],
                       stdout=devnull, check=True)

    def run_c_cli():
        subprocess.run([a.cli, "--no-workspace", "--image", a.image, "--",
                        "true"], stdout=devnull, check=True)

    ways = {"raw " + a.runtime: run_raw, "sandbox_run() drop-in": run_dropin,
            "sandbox.py CLI mode": run_dropin_cli}
    if os.access(a.cli, os.X_OK):
        ways["C CLI sandbox"] = run_c_cli
    else:
        print(f"(C CLI not found at {a.cli}: skipped)", file=sys.stderr)

    times = {name: [] for name in ways}
    for fn in ways.values():  # warm up: image cache, page cache
        fn()
    for _ in range(a.n):
        for name, fn in ways.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)

    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["raw " + a.runtime]
    cli = med.get("C CLI sandbox")
    print(f"libsandbox {sandbox.version()}, {a.runtime}, {a.image}, "
          f"n={a.n} rounds, `true`")
    print(f"{'way':<24}{'median ms':>10}{'min':>8}{'max':>8}"
          f"{'x raw':>8}{'x C CLI':>9}")
    for name, v in times.items():
        vs_cli = f"{med[name] / cli:9.3f}" if cli else f"{'-':>9}"
        print(f"{name:<24}{med[name] * 1e3:10.1f}{min(v) * 1e3:8.1f}"
              f"{max(v) * 1e3:8.1f}{med[name] / base:8.3f}{vs_cli}")
    if cli:
        d = med["sandbox_run() drop-in"] - cli
        print(f"drop-in minus C CLI: {d * 1e3:+.1f} ms per call")


if __name__ == "__main__":
    main()
