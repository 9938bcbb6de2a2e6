#!/bin/sh
# A fake podman/docker for libsandbox's unit tests.  The tests copy this
# file into a temp dir as `podman` and/or `docker` and put that dir on PATH.
# No container is ever involved.
#
# Every invocation appends its whole argv ($0 first) to $FAKE_LOG (if set):
# each argument followed by \037 (unit separator), the invocation ended by
# a newline.
#
#   run:  print $FAKE_STDOUT / $FAKE_STDERR (if set); exit $FAKE_EXIT if set;
#         otherwise `exec sh -c "<last argument>"`, i.e. run the command the
#         library passed after `sh -c`, on the host.
#   ps:   if $FAKE_PS_LISTS is set and a --filter=name=NAME is given, print
#         NAME (the container "is still there"); without a name filter print
#         $FAKE_PS_OUTPUT (the label listing used by sandbox_gc).
#   other (rm, kill, ...): exit ${FAKE_OTHER_EXIT:-0}.
if [ -n "$FAKE_LOG" ]; then
    # One write per invocation: concurrent calls (the library runs
    # `docker info` alongside `docker run`) must not interleave.
    line=$(printf '%s\037' "$0" "$@")
    printf '%s\n' "$line" >>"$FAKE_LOG"
fi

case "$1" in
run)
    [ -n "$FAKE_STDOUT" ] && printf '%s' "$FAKE_STDOUT"
    [ -n "$FAKE_STDERR" ] && printf '%s' "$FAKE_STDERR" >&2
    [ -n "$FAKE_EXIT" ] && exit "$FAKE_EXIT"
    for last in "$@"; do :; done
    exec sh -c "$last"
    ;;
ps)
    name=
    for a in "$@"; do
        case "$a" in --filter=name=*) name=${a#--filter=name=} ;; esac
    done
    if [ -n "$name" ]; then
        [ -n "$FAKE_PS_LISTS" ] && printf '%s\n' "$name"
    elif [ -n "$FAKE_PS_OUTPUT" ]; then
        printf '%s\n' "$FAKE_PS_OUTPUT"
    fi
    exit 0
    ;;
*)
    exit "${FAKE_OTHER_EXIT:-0}"
    ;;
esac
