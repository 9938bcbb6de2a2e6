# The command-line interface: python3 sandbox.py [OPTIONS] -- COMMAND ...
# Every process runs in the candidate box (sbcall.run), never here.
import sbcall
PYTHON = "/usr/bin/python3"  # the same image runs both boxes


class Done:
    def __init__(self, p):
        self.returncode = p.returncode
        self.stdout, self.stderr = p.text()


def cli(candidate_path, *args, timeout=30):
    return Done(sbcall.run([PYTHON, candidate_path] + list(args),
                           timeout=timeout))


def test_cli_prints_the_text_form(candidate_path, fake):
    p = cli(candidate_path, "--", "echo", "hello")
    assert p.stdout.startswith("exit=0\n--- stdout ---\nhello\n"), p.stdout
    assert p.returncode == 0


def test_cli_exit_code_is_passed_through(candidate_path, fake):
    p = cli(candidate_path, "--", "exit", "3")
    assert p.stdout.startswith("exit=3\n"), p.stdout + p.stderr
    assert p.returncode == 3, "the CLI must exit with the container's code"


def test_cli_timeout_exits_124(candidate_path, fake):
    p = cli(candidate_path, "--timeout", "1", "--", "sleep", "30")
    assert p.returncode == 124, p.stdout + p.stderr


def test_cli_default_workspace_is_the_current_directory(candidate_path,
                                                        fake):
    cli(candidate_path, "--", "true")
    argv = fake.last_run_argv()
    assert "%s:/workspace:rw" % fake.cwd in argv, \
        "the CLI's default workspace is the current directory: %r" % argv


def test_cli_workspace_option(candidate_path, fake):
    ws = fake.mkdir("other")
    cli(candidate_path, "--workspace", str(ws), "--", "true")
    assert "%s:/workspace:rw" % ws in fake.last_run_argv()


def test_cli_joins_words_with_one_space(candidate_path, fake):
    cli(candidate_path, "--", "echo", "a", "b;", "echo", "c")
    assert fake.last_run_argv()[-3:] == ["sh", "-c", "echo a b; echo c"]


def test_cli_options_reach_the_runtime(candidate_path, fake):
    cli(candidate_path, "--image", "busybox:latest", "--network", "bridge",
        "--memory", "256m", "--pids", "32", "--cpus", "1", "--", "true")
    argv = " ".join(fake.last_run_argv())
    for want in ("busybox:latest", "bridge", "256m", "32"):
        assert want in argv, want
