#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A persistent box, streaming, file transfer and a warm pool from Python.

    pip install --no-build-isolation ./python
    LIBSANDBOX_PATH=build/libsandbox/libsandbox.so.0 \\
        python3 examples/python/box_example.py [--runtime native|podman|docker]

What an agent loop does: one box for a whole session (state persists
between commands), a file copied in, a command whose output is shown as it
arrives, a timed-out command that leaves the box alive, a result copied
out; then several one-shot runs from a warm pool, from threads.
"""
import argparse
import concurrent.futures
import pathlib
import sys
import tempfile

import libsandbox


def session(runtime, image):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "prog.sh").write_text("#!/bin/sh\n"
                                     "for i in 1 2 3; do echo step $i; "
                                     "sleep 0.5; done\n"
                                     "echo done > /tmp/work/result.txt\n")
        with libsandbox.Box(image=image, runtime=runtime, memory="256m",
                            network="none", lifetime=300, idle=60) as box:
            print(f"box {box.name} is up")
            box.exec("mkdir /tmp/work")                    # state ...
            box.put(tmp / "prog.sh", "/tmp/work/prog.sh")  # host -> box
            # ... persists: the directory and the file are still there.
            with box.stream(["sh", "/tmp/work/prog.sh"]) as s:
                for name, data in s:                       # as it arrives
                    sys.stdout.write(f"  [{name}] {data.decode()}")
            print(f"prog.sh: {s.result.reason}, exit {s.result.exit_code}")

            r = box.exec("sleep 60", timeout=1)            # kills the exec
            print(f"sleep 60 with timeout=1: {r.reason} (exit "
                  f"{r.exit_code}); box alive: {box.alive()}")

            r = box.exec("wc -c", stdin=b"\0" * 1000)      # stdin bytes
            print(f"wc -c on 1000 stdin bytes: {r.stdout.decode().strip()}")

            box.get("/tmp/work/result.txt", tmp / "result.txt")  # box -> host
            print("result.txt:", (tmp / "result.txt").read_text().strip())

            box.destroy()
            try:
                box.exec("true")
            except libsandbox.BoxDeadError as exc:
                print(f"exec after destroy: BoxDeadError code {exc.code}: "
                      f"{exc}")


def pooled(runtime, image):
    with libsandbox.Pool(image=image, runtime=runtime, size=2) as pool:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda i: pool.run(["echo", f"run {i}"]),
                                  range(6)))
        for r in results:
            print(f"pool: {r.stdout.decode().strip()} in "
                  f"{r.wall_sec * 1000:.1f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtime", default=None,
                    help="native, podman or docker (default: "
                    "$SANDBOX_RUNTIME, else podman, else docker)")
    ap.add_argument("--image", default="busybox:latest")
    args = ap.parse_args()
    try:
        session(args.runtime, args.image)
        pooled(args.runtime, args.image)
    except libsandbox.SandboxError as exc:
        print(f"box_example: {type(exc).__name__} ({exc.code}): {exc}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
