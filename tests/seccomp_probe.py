# SPDX-License-Identifier: MIT
# Probes of the seccomp policy (docs/seccomp.md), run by tests/seccomp_probe.c
# inside a box on every backend and, as the control, on the host itself.
# One line per probe: "<name> ok" when the call got through, else the errno
# name (or SIGSYS when the process was killed).  The C side holds the
# expected answers; this file only reports.
import ctypes
import errno
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import termios
import threading

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sc(nr, *args):
    """A raw x86_64 syscall: (return value, errno)."""
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return r, ctypes.get_errno()


def out(name, ok, err=0):
    if ok:
        word = "ok"
    elif err == -31:
        word = "SIGSYS"
    else:
        word = errno.errorcode.get(err, str(err))
    print(name, word, flush=True)


def try_os(name, fn):
    try:
        fn()
        out(name, True)
    except OSError as e:
        out(name, False, e.errno)


def sock(name, family, kind, proto=0):
    try_os(name, lambda: socket.socket(family, kind, proto).close())


# ---- sockets: families outside the allow-list
sock("vsock", socket.AF_VSOCK, socket.SOCK_STREAM)
sock("packet", socket.AF_PACKET, socket.SOCK_DGRAM)
sock("netlink_uevent", socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
sock("netlink_route", socket.AF_NETLINK, socket.SOCK_DGRAM, 0)
sock("inet", socket.AF_INET, socket.SOCK_STREAM)
sock("inet6", socket.AF_INET6, socket.SOCK_DGRAM)
sock("unix", socket.AF_UNIX, socket.SOCK_STREAM)


def pair(name, family):
    try:
        for s in socket.socketpair(family, socket.SOCK_STREAM):
            s.close()
        out(name, True)
    except OSError as e:
        # EOPNOTSUPP: the family's code ran and said it has no pairs.
        out(name, e.errno != errno.EPERM, e.errno)


pair("socketpair_vsock", socket.AF_VSOCK)
pair("socketpair_unix", socket.AF_UNIX)

# ---- namespaces: unshare(CLONE_NEWUSER) needs no capability
r, e = sc(272, 0x10000000)
out("unshare_user", r == 0, e)


# ---- terminal injection: on /dev/null the tty layer answers ENOTTY, so
# anything but EPERM means the filter let the request through.
def ioc(name, req):
    fd = os.open("/dev/null", os.O_RDONLY)
    ch = ctypes.c_char(b"x")
    r, e = sc(16, fd, req, ctypes.addressof(ch))
    os.close(fd)
    out(name, e != errno.EPERM, e)


def ioc_fcntl(name, req):
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        fcntl.ioctl(fd, req, b"x")
        out(name, True)
    except OSError as e:
        out(name, e.errno != errno.EPERM, e.errno)
    os.close(fd)


ioc_fcntl("tiocsti_fcntl", termios.TIOCSTI)
ioc("tiocsti", termios.TIOCSTI)
ioc("tiocsti_high_bits", termios.TIOCSTI | (1 << 32))
ioc("tioclinux", 0x541C)
ioc("tcgets", termios.TCGETS)

# ---- setuid/setgid bits and device nodes
d = tempfile.mkdtemp()
f = os.path.join(d, "f")
open(f, "w").close()
try_os("chmod_setuid", lambda: os.chmod(f, 0o4755))
try_os("chmod_setgid", lambda: os.chmod(f, 0o2755))
try_os("chmod_plain", lambda: os.chmod(f, 0o755))


def creat_setuid():
    fd = os.open(os.path.join(d, "g"), os.O_CREAT | os.O_WRONLY, 0o4755)
    os.close(fd)


try_os("open_creat_setuid", creat_setuid)
# A 0:0 character device (an overlayfs whiteout) needs no CAP_MKNOD.
try_os("mknod_chardev", lambda: os.mknod(os.path.join(d, "c"), 0o20666, 0))
try_os("mkfifo", lambda: os.mkfifo(os.path.join(d, "p")))

# ---- personality, io_uring, ptrace, syscalls outside / above the table
r, e = sc(135, 0x0040000)  # ADDR_NO_RANDOMIZE
out("personality_no_randomize", r >= 0, e)
r, e = sc(135, 0xFFFFFFFF)
out("personality_query", r >= 0, e)
params = ctypes.create_string_buffer(256)
r, e = sc(425, 1, ctypes.addressof(params))
out("io_uring_setup", r >= 0, e)
if r >= 0:
    os.close(r)
rfd, wfd = os.pipe()
pid = os.fork()
if pid == 0:
    r, e = sc(101, 0)  # PTRACE_TRACEME
    os.write(wfd, b"%d" % (0 if r == 0 else e))
    os._exit(0)
os.waitpid(pid, 0)
e = int(os.read(rfd, 16))
out("ptrace_traceme", e == 0, e)
r, e = sc(451, 0, 0, 0, 0)  # cachestat: known to the kernel, not listed
out("cachestat", e != errno.EPERM, e)
r, e = sc(462, 0, 0, 0)  # mseal: newer than every listed syscall
out("mseal", e != errno.ENOSYS, e)

# clone3 and openat2 answer ENOSYS (libc falls back to the checked calls).
# clone3 with size 0 is refused by the kernel (EINVAL) before doing anything.
r, e = sc(435, 0, 0)
out("clone3", e != errno.ENOSYS, e)
how = (ctypes.c_uint64 * 3)(0, 0, 0)
root = ctypes.create_string_buffer(b"/")
r, e = sc(437, (1 << 64) - 100, ctypes.addressof(root), ctypes.addressof(how), 24)
out("openat2", r >= 0, e)
if r >= 0:
    os.close(r)

# ---- another ABI: i386 getpid through int 0x80
I386 = (
    "import ctypes, mmap\n"
    "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE"
    " | mmap.PROT_EXEC)\n"
    "m.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))\n"
    "f = ctypes.CFUNCTYPE(ctypes.c_int)("
    "ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
    "print(f())\n"
)
p = subprocess.run([sys.executable, "-c", I386], capture_output=True)
out("i386_abi", p.returncode == 0, p.returncode)

# ---- what every box must still do
pid = os.fork()
if pid == 0:
    os._exit(7)
out("fork", os.waitpid(pid, 0)[1] >> 8 == 7)
box = []
t = threading.Thread(target=lambda: box.append(1))
t.start()
t.join()
out("thread", box == [1])
out("subprocess", subprocess.run(["sh", "-c", "exit 3"]).returncode == 3)
shutil.rmtree(d)
print("done", flush=True)
