# Deadlines: the exit code, the container itself, and pipes that fill up.
import time


def wait_until(pred, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_timeout_returns_124_promptly(sb, fake):
    t0 = time.monotonic()
    out = sb.sandbox_run("sleep 30", timeout=1)
    took = time.monotonic() - t0
    assert out.startswith("exit=124\n"), out[:80]
    assert took < 12, "took %.1f s for a 1 s timeout" % took


def test_timeout_kills_the_container_not_just_the_client(sb, fake):
    sb.sandbox_run("sleep 30", timeout=1)
    assert wait_until(lambda: not fake.running(), 3.0), \
        "the container %s is still running after the timeout: killing " \
        "the podman/docker client does not stop it; kill it by name" \
        % fake.running()


def test_output_before_the_timeout_is_kept(sb, fake):
    out = sb.sandbox_run("echo started; sleep 30", timeout=1)
    assert out.startswith("exit=124\n--- stdout ---\n")
    assert "started" in out


def test_large_stderr_does_not_deadlock(sb, fake):
    t0 = time.monotonic()
    out = sb.sandbox_run("head -c 300000 /dev/zero | tr '\\0' e >&2; "
                         "echo done", timeout=20)
    assert out.startswith("exit=0\n--- stdout ---\ndone\n"), out[:80]
    assert time.monotonic() - t0 < 15


def test_finished_containers_are_not_left_behind(sb, fake):
    sb.sandbox_run("echo quick")
    assert not fake.running()
    assert fake.calls("run")[-1]["argv"][1] == "--rm" or \
        "--rm" in fake.calls("run")[-1]["argv"]
