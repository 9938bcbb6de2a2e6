# How sandbox_run() drives the runtime: flags, name, runtime choice,
# workspace mounts, and no host shell.
import posixpath

import pytest

SECURITY_FLAGS = ["--rm", "--pull=missing", "--cap-drop=ALL",
                  "--security-opt=no-new-privileges"]


def normalized(argv):
    """`--flag value` and `--flag=value` read the same."""
    out, i = [], 0
    takes = {"--network", "--memory", "--pids-limit", "--cpus", "--name",
             "--pull", "--cap-drop", "--security-opt"}
    while i < len(argv):
        a = argv[i]
        if a in takes and i + 1 < len(argv):
            out.append(a + "=" + argv[i + 1])
            i += 2
        else:
            out.append(a)
            i += 1
    return out


def opt(argv, name):
    for a in normalized(argv):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def test_default_flags_reach_the_runtime(sb, fake):
    sb.sandbox_run("true")
    argv = fake.last_run_argv()
    n = normalized(argv)
    for flag in SECURITY_FLAGS:
        assert flag in n, "missing %s in %r" % (flag, argv)
    assert opt(argv, "--network") == "none"
    assert opt(argv, "--memory") == "2g"
    assert opt(argv, "--pids-limit") == "512"
    assert float(opt(argv, "--cpus")) == 2.0
    assert argv[-4:] == ["debian:stable-slim", "sh", "-c", "true"]


def test_custom_limits_reach_the_runtime(sb, fake):
    sb.sandbox_run("true", image="busybox:latest", network="bridge",
                   memory="512m", pids=64, cpus=1.5)
    argv = fake.last_run_argv()
    assert opt(argv, "--network") == "bridge"
    assert opt(argv, "--memory") == "512m"
    assert opt(argv, "--pids-limit") == "64"
    assert float(opt(argv, "--cpus")) == 1.5
    assert argv[-4:] == ["busybox:latest", "sh", "-c", "true"]


def test_every_container_gets_a_unique_name(sb, fake):
    sb.sandbox_run("true")
    sb.sandbox_run("true")
    names = [opt(c["argv"], "--name") for c in fake.runs()]
    assert all(names), "containers must be named (--name) so they can be " \
                       "killed by name on timeout"
    assert names[0] != names[1]


def test_podman_is_preferred_when_both_exist(sb, fake):
    sb.sandbox_run("true")
    assert fake.runs()[-1]["runtime"] == "podman"


def test_docker_fallback_when_podman_is_missing(sb, fake):
    fake.set_path(fake.docker_only)
    out = sb.sandbox_run("echo hi")
    assert fake.runs()[-1]["runtime"] == "docker"
    assert out.startswith("exit=0\n")


def test_error_names_both_runtimes_when_neither_exists(sb, fake):
    fake.set_path(fake.none)
    with pytest.raises(Exception) as info:
        sb.sandbox_run("true")
    msg = str(info.value).lower()
    assert "podman" in msg and "docker" in msg, \
        "the error must name both runtimes: %r" % str(info.value)
    assert not fake.runs()


def test_workspace_none_mounts_nothing(sb, fake):
    sb.sandbox_run("true")
    argv = fake.last_run_argv()
    for bad in ("-v", "--volume", "--mount", "-w", "--workdir"):
        assert not any(a == bad or a.startswith(bad + "=") for a in argv), \
            "workspace=None must mount nothing, found %s in %r" % (bad, argv)


def test_workspace_is_mounted_rw_at_workspace(sb, fake):
    ws = fake.mkdir("ws")
    out = sb.sandbox_run("echo made > made.txt", workspace=str(ws))
    argv = fake.last_run_argv()
    assert "%s:/workspace:rw" % ws in argv
    i = argv.index("%s:/workspace:rw" % ws)
    assert argv[i - 1] in ("-v", "--volume")
    assert "/workspace" in argv and argv[argv.index("/workspace") - 1] in \
        ("-w", "--workdir")
    assert out.startswith("exit=0\n")
    assert fake.read(posixpath.join(ws, "made.txt")) == "made\n"


def test_relative_workspace_is_made_absolute(sb, fake):
    rel = fake.mkdir("cwd/rel")
    sb.sandbox_run("echo x > x.txt", workspace="rel")
    argv = fake.last_run_argv()
    assert "%s:/workspace:rw" % rel in argv, \
        "a relative workspace must be made absolute (podman reads a " \
        "relative source as a named volume): %r" % argv
    assert fake.exists(posixpath.join(rel, "x.txt"))


PAYLOADS = [
    "echo 'single quote",
    'echo "double quote',
    "echo a; echo b",
    "true && echo and",
    "echo `echo backtick`",
    "echo $(echo subst) $HOME",
    "echo '; touch pwned; echo '",
    'echo "; touch pwned; echo "',
    "echo x | tr x y > piped.txt",
]


@pytest.mark.parametrize("cmd", PAYLOADS)
def test_command_never_passes_through_a_host_shell(sb, fake, cmd):
    sb.sandbox_run(cmd)
    runs = fake.runs()
    assert len(runs) == 1, "one command, one `run`: %r" % runs
    argv = runs[0]["argv"]
    assert argv[-3:] == ["sh", "-c", cmd], \
        "the command must reach `sh -c` inside the box verbatim: %r" % argv
    assert runs[0]["parent"] not in ("sh", "bash", "dash", "zsh", "ash"), \
        "the runtime was started by a host shell (%s)" % runs[0]["parent"]
