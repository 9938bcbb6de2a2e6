# SPDX-License-Identifier: MIT
"""callee.py: one `call` request of serve.py, in a fresh interpreter.

Reads {"candidate", "module", "func", "args", "kwargs"} on stdin, imports
<candidate>/<module>.py, calls the function and writes one JSON answer to
the file descriptor in $SBCALL_RESULT_FD (stdout and stderr are the
candidate's and are discarded).
"""
import json
import os
import sys


def main():
    fd = int(os.environ.pop("SBCALL_RESULT_FD"))
    out = os.fdopen(fd, "w")
    req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdin = open(os.devnull)
    sys.path.insert(0, req["candidate"])
    try:
        mod = __import__(req["module"])
        fn = mod
        for part in req["func"].split("."):
            fn = getattr(fn, part)
        value = fn(*req["args"], **req["kwargs"])
        try:
            ans = json.dumps({"ok": True, "value": value})
        except (TypeError, ValueError) as e:
            ans = json.dumps({"ok": False, "error": "the result is not "
                              "JSON-serialisable: %s" % e})
    except BaseException as e:  # noqa: B036 -- every exception is an answer
        ans = json.dumps({"ok": False, "exc_type": type(e).__name__,
                          "exc_message": str(e)})
    out.write(ans)
    out.flush()
    os._exit(0)  # no atexit hooks of the candidate's after the answer


if __name__ == "__main__":
    main()
