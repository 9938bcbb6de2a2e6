# A fake `podman`/`docker` for the hidden tests: no container runtime is
# available (or wanted) inside the evaluation sandbox.  conftest.py copies
# this file into a bin/ directory as `podman` and `docker`, with a shebang
# naming this Python and STATE naming the state directory.
#
# It behaves like the real client where a sandbox_run() implementation can
# get it wrong:
#   run ... IMAGE sh -c CMD  starts a "container": a monitor process in its
#       own session (like conmon) that runs `sh -c CMD` in its own process
#       group, writing stdout/stderr to files; the client relays them to its
#       own stdout/stderr in order (blocking when a pipe is full) and exits
#       with the container's status.
#   Killing only the client with SIGKILL (subprocess.run(timeout=)) leaves
#       the container running, exactly as with real podman.  SIGTERM/SIGINT
#       to the client are forwarded to the container (sig-proxy).
#   kill NAME / stop NAME / rm -f NAME stop the container by name.
#   -v HOST:/workspace[:rw] and -w /workspace: the command runs with HOST as
#       its working directory; without a workspace it runs in an empty dir.
# Every invocation is recorded in STATE/calls.jsonl with its argv and the
# name of the parent process (a shell there means a host shell was used).
import json
import os
import signal
import sys
import time
import uuid

STATE = os.environ.get("FAKE_RUNTIME_STATE", "/tmp/fake-runtime-state")
RT = os.path.basename(sys.argv[0])
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

VALUE_OPTS = {
    "--network", "--net", "--memory", "-m", "--pids-limit", "--cpus",
    "--cap-drop", "--cap-add", "--security-opt", "--name", "--label", "-l",
    "-v", "--volume", "-w", "--workdir", "--env", "-e", "--pull", "--user",
    "-u", "--mount", "--entrypoint", "--timeout", "--stop-timeout",
    "--hostname", "-h", "--tmpfs", "--cidfile", "--ulimit", "--log-driver",
    "--stop-signal", "--memory-swap", "--cpu-shares", "--shm-size",
}


def parent_comm():
    try:
        with open("/proc/%d/comm" % os.getppid()) as f:
            return f.read().strip()
    except OSError:
        return ""


def record(entry):
    os.makedirs(STATE, exist_ok=True)
    line = json.dumps(entry) + "\n"
    fd = os.open(os.path.join(STATE, "calls.jsonl"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def cdir(name):
    return os.path.join(STATE, "containers", name)


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def running(name):
    d = cdir(name)
    if not os.path.isdir(d) or os.path.exists(os.path.join(d, "exit")):
        return False
    pgid = read(os.path.join(d, "pgid"))
    if pgid is None:
        return True  # starting
    try:
        os.killpg(int(pgid), 0)
        return True
    except OSError:
        return False


def kill_container(name, sig=signal.SIGKILL):
    d = cdir(name)
    pgid = None
    for _ in range(200):  # wait for the monitor to record the group
        pgid = read(os.path.join(d, "pgid"))
        if pgid or os.path.exists(os.path.join(d, "exit")):
            break
        time.sleep(0.01)
    if pgid:
        try:
            os.killpg(int(pgid), sig)
        except OSError:
            pass
    if sig == signal.SIGKILL:
        for _ in range(300):
            if os.path.exists(os.path.join(d, "exit")):
                break
            time.sleep(0.01)


def monitor(d, cwd, argv):
    """The container: runs argv in its own group, records its status."""
    out = os.open(os.path.join(d, "stdout"), os.O_WRONLY | os.O_CREAT, 0o644)
    err = os.open(os.path.join(d, "stderr"), os.O_WRONLY | os.O_CREAT, 0o644)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        nul = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nul, 0)
        try:
            os.chdir(cwd)
            os.execve(argv[0] if argv[0].startswith("/") else "/bin/sh",
                      argv if argv[0].startswith("/") else
                      ["/bin/sh", "-c", 'exec "$@"', "sh"] + argv,
                      {"PATH": STD_PATH, "HOME": "/root", "LANG": "C.UTF-8"})
        finally:
            os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    tmp = os.path.join(d, "pgid.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, os.path.join(d, "pgid"))
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
    else:
        code = 128 + os.WTERMSIG(status)
    tmp = os.path.join(d, "exit.tmp")
    with open(tmp, "w") as f:
        f.write(str(code))
    os.rename(tmp, os.path.join(d, "exit"))
    os._exit(0)


def parse_run(args):
    opts = []
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-") or a == "-":
            break
        if "=" in a:
            k, v = a.split("=", 1)
            opts.append((k, v))
        elif a in VALUE_OPTS:
            if i + 1 >= len(args):
                die("flag needs an argument: " + a)
            opts.append((a, args[i + 1]))
            i += 1
        else:
            opts.append((a, None))
        i += 1
    if i >= len(args):
        die("requires at least 1 arg(s), only received 0")
    return opts, args[i], args[i + 1:]


def die(msg, code=125):
    sys.stderr.write("Error: %s\n" % msg)
    sys.exit(code)


def do_run(args):
    opts, image, cmd = parse_run(args)
    if not cmd:
        cmd = ["sh"]
    name = None
    vols = {}
    workdir = None
    for k, v in opts:
        if k == "--name":
            name = v
        elif k in ("-v", "--volume"):
            parts = v.split(":")
            if len(parts) < 2:
                die("invalid volume specification: %r" % v)
            src, dst = parts[0], parts[1]
            if not src.startswith("/"):
                # Like podman: a relative source is a *named volume*.
                src = os.path.join(STATE, "volumes", src)
                os.makedirs(src, exist_ok=True)
            elif not os.path.exists(src):
                die("statfs %s: no such file or directory" % src)
            vols[dst] = src
        elif k in ("-w", "--workdir"):
            workdir = v
    if name is None:
        name = "fake-" + uuid.uuid4().hex[:12]
    d = cdir(name)
    if os.path.isdir(d) and not os.path.exists(os.path.join(d, "removed")):
        die('creating container storage: the container name "%s" is already '
            "in use" % name)
    if os.path.isdir(d):
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    root = os.path.join(d, "root")
    os.makedirs(root)
    cwd = root
    if workdir is not None:
        cwd = vols.get(workdir)
        if cwd is None:
            cwd = os.path.join(root, workdir.lstrip("/"))
            os.makedirs(cwd, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"name": name, "image": image, "cmd": cmd, "opts": opts,
                   "runtime": RT, "client_pid": os.getpid(),
                   "rm": any(k == "--rm" for k, _ in opts)}, f)
    open(os.path.join(d, "stdout"), "w").close()
    open(os.path.join(d, "stderr"), "w").close()

    mon = os.fork()
    if mon == 0:
        os.setsid()
        try:
            monitor(d, cwd, cmd)
        finally:
            os._exit(1)

    def forward(sig, _frame):
        kill_container(name, sig)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    outf = open(os.path.join(d, "stdout"), "rb")
    errf = open(os.path.join(d, "stderr"), "rb")
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    code = None
    while True:
        finished = os.path.exists(os.path.join(d, "exit"))
        moved = False
        for src, dst in ((errf, err), (outf, out)):
            chunk = src.read(65536)
            if chunk:
                moved = True
                try:
                    dst.write(chunk)
                    dst.flush()
                except BrokenPipeError:
                    pass
        if finished and not moved:
            code = int(read(os.path.join(d, "exit"), "125"))
            break
        if not moved:
            time.sleep(0.01)
    try:
        os.waitpid(mon, 0)
    except ChildProcessError:
        pass
    if any(k == "--rm" for k, _ in opts):
        open(os.path.join(d, "removed"), "w").close()
    sys.exit(code)


def names_of(args):
    names = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-s", "--signal", "-t", "--time", "--timeout"):
            skip = True
            continue
        if a.startswith("-"):
            continue
        names.append(a)
    return names


def do_kill(args, stop=False):
    names = names_of(args)
    if not names:
        die("you must provide at least one container name or ID")
    rc = 0
    for n in names:
        if not os.path.isdir(cdir(n)) or \
                os.path.exists(os.path.join(cdir(n), "removed")):
            sys.stderr.write('Error: no container with name or ID "%s" found: '
                             "no such container\n" % n)
            rc = 125
            continue
        if not running(n):
            if stop:
                print(n)
                continue
            sys.stderr.write('Error: can only kill running containers. %s is '
                             "in state exited: container state improper\n" % n)
            rc = 125
            continue
        kill_container(n)
        print(n)
    return rc


def do_rm(args):
    force = any(a in ("-f", "--force") or (a.startswith("-") and
                                           not a.startswith("--") and
                                           "f" in a) for a in args)
    rc = 0
    for n in names_of(args):
        d = cdir(n)
        if not os.path.isdir(d) or os.path.exists(os.path.join(d, "removed")):
            if not force:
                sys.stderr.write('Error: no container with name or ID "%s" '
                                 "found: no such container\n" % n)
                rc = 1
            continue
        if running(n):
            if not force:
                sys.stderr.write("Error: cannot remove container %s as it is "
                                 "running - running or paused containers "
                                 "cannot be removed without force\n" % n)
                rc = 2
                continue
            kill_container(n)
        open(os.path.join(d, "removed"), "w").close()
        print(n)
    return rc


def do_ps():
    base = os.path.join(STATE, "containers")
    for n in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        if running(n):
            print(n)
    return 0


def main():
    args = sys.argv[1:]
    record({"runtime": RT, "argv": args, "parent": parent_comm(),
            "pid": os.getpid(), "time": time.time()})
    if not args:
        die("missing command")
    sub, rest = args[0], args[1:]
    if sub == "run":
        do_run(rest)
    elif sub == "kill":
        sys.exit(do_kill(rest))
    elif sub == "stop":
        sys.exit(do_kill(rest, stop=True))
    elif sub in ("rm", "remove"):
        sys.exit(do_rm(rest))
    elif sub == "ps":
        sys.exit(do_ps())
    elif sub in ("version", "--version", "-v"):
        print("%s version 4.3.1 (fake)" % RT)
        sys.exit(0)
    elif sub == "wait":
        for n in names_of(rest):
            while running(n):
                time.sleep(0.05)
            print(read(os.path.join(cdir(n), "exit"), "0"))
        sys.exit(0)
    else:
        die("unrecognized command `%s %s`" % (RT, sub))


if __name__ == "__main__":
    main()
