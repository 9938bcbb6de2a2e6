#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Python binding's cost per exec: medians of box.exec(["true"]) in one
live box, from the main thread (worker + cancel pipe, for Ctrl-C) and from
another thread (a direct call), against subprocess.run(["/bin/true"]).

    python3 examples/python/bench_box_exec.py [-n 200] [RUNTIME ...]
"""
import argparse
import statistics
import subprocess
import threading
import time

import libsandbox


def median_ms(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("runtimes", nargs="*", default=["native"])
    args = ap.parse_args()
    host = median_ms(lambda: subprocess.run(["/bin/true"]), args.n)
    print(f"subprocess.run(/bin/true): {host:.2f} ms (n={args.n})")
    for rt in args.runtimes:
        with libsandbox.Box(image="busybox:latest", runtime=rt) as box:
            box.exec(["true"])
            main_ms = median_ms(lambda: box.exec(["true"]), args.n)
            other = {}
            t = threading.Thread(target=lambda: other.setdefault(
                "ms", median_ms(lambda: box.exec(["true"]), args.n)))
            t.start()
            t.join()
        print(f"{rt}: Box.exec(['true']) main thread {main_ms:.2f} ms, "
              f"other thread {other['ms']:.2f} ms")


if __name__ == "__main__":
    main()
