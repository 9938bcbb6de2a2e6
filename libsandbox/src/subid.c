/* SPDX-License-Identifier: MIT */
/* Subordinate id ranges (/etc/subuid, /etc/subgid): the unprivileged host
 * ids a box's root and users map to, whoever the caller is. */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

/* Find the first line of `file` whose owner field is `name` or the decimal
 * `id`, with at least `want` ids.  0, or -ENOENT when there is none. */
static int find_range(const char *file, const char *name, unsigned long id,
                      uint32_t want, uint32_t *start, uint32_t *count)
{
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return -errno;
    char line[512];
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lu", id);
    int rc = -ENOENT;
    while (fgets(line, sizeof line, f) != NULL) {
        char *save = NULL;
        char *owner = strtok_r(line, ":\n", &save);
        char *s = strtok_r(NULL, ":\n", &save);
        char *c = strtok_r(NULL, ":\n", &save);
        if (owner == NULL || s == NULL || c == NULL)
            continue;
        if (strcmp(owner, idbuf) != 0 && (name == NULL || strcmp(owner, name)))
            continue;
        char *end;
        errno = 0;
        unsigned long long vs = strtoull(s, &end, 10);
        if (errno || *end || vs == 0 || vs > UINT32_MAX)
            continue;
        unsigned long long vc = strtoull(c, &end, 10);
        if (errno || *end || vc < want || vs + vc > UINT32_MAX)
            continue;
        *start = (uint32_t)vs;
        *count = (uint32_t)(vc > 65536 ? 65536 : vc);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

int sbx_subid_range(sbx_idmap *map, sbx_err *e)
{
    uid_t uid = geteuid();
    struct passwd pw, *pwp = NULL;
    char buf[1024];
    const char *name = NULL;
    /* uid 0 is "root" everywhere: no NSS lookup (its first call in a process
     * loads modules, ~80 us on the native backend's start-up path). */
    if (uid == 0)
        name = "root";
    else if (getpwuid_r(uid, &pw, buf, sizeof buf, &pwp) == 0 && pwp != NULL)
        name = pw.pw_name;
    memset(map, 0, sizeof *map);
    uint32_t gcount = 0;
    int rc = find_range(SBX_SUBUID_FILE, name, (unsigned long)uid,
                        SBX_SUBID_MIN, &map->uid_start, &map->count);
    if (rc == 0)
        rc = find_range(SBX_SUBGID_FILE, name, (unsigned long)uid,
                        SBX_SUBID_MIN, &map->gid_start, &gcount);
    if (rc < 0)
        return sbx_fail(e, SANDBOX_ERUNTIME,
                        "no subordinate id range of at least %u ids for "
                        "user '%s' (uid %lu) in " SBX_SUBUID_FILE
                        " and " SBX_SUBGID_FILE
                        ": the box's root must map to an unprivileged host "
                        "id; add a line such as '%s:100000:65536' to both "
                        "files (usermod --add-subuids 100000-165535 "
                        "--add-subgids 100000-165535 %s)",
                        SBX_SUBID_MIN, name ? name : "?", (unsigned long)uid,
                        name ? name : "USER", name ? name : "USER");
    if (gcount < map->count)
        map->count = gcount;
    return 0;
}
