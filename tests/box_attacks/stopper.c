/* SPDX-License-Identifier: MIT */
/* Hostile box process (tests/box_attacks.c), left behind by one exec:
 *
 *   stopper stop   SIGSTOP every other process of the box, again and again
 *   stopper kill   SIGKILL every other process of the box
 *   stopper hog    fork children that pause forever, and keep trying when
 *                  fork fails: every pid of the box's pids limit stays taken
 *
 * "Every other" is everything in /proc but itself and PID 1 (the box's
 * init, which the kernel protects from its namespace anyway): the init's
 * fork of a later exec before or after READY, while it reads its spec, or
 * the exec's own processes, whichever it meets first.
 *
 * It arms once the exec that started it has ended (its parent, that exec's
 * shell, is gone and it was reparented to PID 1), so that exec itself is
 * never hit; the owner sees that exec end only after the shell exited,
 * hence the stopper is armed (within a millisecond) before any later exec
 * starts.  Then it scans /proc every millisecond: a later exec that lives
 * longer than that (`sleep 1; echo done`) cannot get past it. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (strcmp(argv[1], "hog") == 0)
        for (;;) {
            pid_t pid = fork();
            if (pid == 0)
                for (;;)
                    pause();
            if (pid < 0)
                nap_ms(1);
        }
    if (strcmp(argv[1], "stop") && strcmp(argv[1], "kill"))
        return 2;
    int sig = strcmp(argv[1], "kill") == 0 ? SIGKILL : SIGSTOP;
    pid_t me = getpid();
    while (getppid() != 1)
        nap_ms(1);
    for (;;) {
        DIR *d = opendir("/proc");
        struct dirent *de;
        while (d && (de = readdir(d))) {
            char *end;
            long pid = strtol(de->d_name, &end, 10);
            if (*end != '\0' || pid <= 1 || pid == me)
                continue;
            kill((pid_t)pid, sig);
        }
        if (d)
            closedir(d);
        nap_ms(1);
    }
}
