/* SPDX-License-Identifier: MIT */
/* The network allow-list: entries parsed and validated before anything
 * runs, and the decisions the proxy takes with them.
 *
 *   host:port          that name exactly (case-insensitive)
 *   *.domain:port      any name below domain (not domain itself)
 *   A.B.C.D[/len]:port an IPv4 address or network
 *   [v6[/len]]:port    an IPv6 address or network ([v6]/len:port too)
 *
 * A name rule lets the proxy connect to what the name resolves to, except
 * loopback, private, link-local and other non-public addresses: those need
 * an IP rule too, so a name that resolves (or rebinds) into the host or its
 * LAN is refused.  A request for a bare IP is allowed by IP rules only. */
#include "net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define FIX_FORMS                                                              \
    "write host:port, *.domain:port, A.B.C.D[/len]:port or "                   \
    "[v6[/len]]:port, e.g. api.example.com:443"

static int bad(sbx_err *e, const char *what, const char *entry,
               const char *problem)
{
    return sbx_fail(e, SANDBOX_EINVAL, "%s '%s': %s", what, entry, problem);
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        if (v <= 65535)
            v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -2;
    *port = (uint16_t)v;
    return 0;
}

bool sbx_net_parse_ip(const char *s, sbx_net_addr *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            return false;
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = '\0';
        s = buf;
    }
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out->a) == 1) {
        out->family = AF_INET6;
        return true;
    }
    return false;
}

void sbx_net_addr_str(const sbx_net_addr *a, char *buf, size_t n)
{
    if (inet_ntop(a->family, a->a, buf, (socklen_t)n) == NULL)
        snprintf(buf, n, "?");
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned len)
{
    unsigned full = len / 8, rest = len % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static bool host_bits_clear(const uint8_t *a, size_t bytes, unsigned len)
{
    for (size_t i = 0; i < bytes; i++) {
        unsigned bit0 = (unsigned)i * 8;
        uint8_t keep = bit0 + 8 <= len ? 0xff
                       : bit0 >= len   ? 0
                                       : (uint8_t)(0xff << (8 - (len - bit0)));
        if ((a[i] & (uint8_t)~keep) != 0)
            return false;
    }
    return true;
}

/* A DNS name as a rule may hold it: labels of letters, digits, '-' and
 * '_', 1..63 bytes, not starting or ending with '-'. */
static const char *name_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "the host name is empty";
    if (n > SBX_NET_NAME_MAX)
        return "the host name is longer than 253 characters";
    const char *label = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t l = (size_t)(p - label);
            if (l == 0)
                return "the host name has an empty label ('..' or a "
                       "leading dot)";
            if (l > 63)
                return "a label of the host name is longer than 63 "
                       "characters";
            if (label[0] == '-' || p[-1] == '-')
                return "a label of the host name starts or ends with '-'";
            if (*p == '\0')
                break;
            label = p + 1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '*')
            return "a wildcard is only allowed as the whole first label, "
                   "as in *.example.com:443";
        if (!isalnum(c) && c != '-' && c != '_')
            return "the host name may hold only letters, digits, '-', '_' "
                   "and dots";
    }
    /* All-numeric labels with dots look like a mistyped IPv4 address. */
    bool numeric = true;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && *p != '.')
            numeric = false;
    if (numeric)
        return "this is neither a host name nor a valid IPv4 address";
    return NULL;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
    /* One final dot is the root label: "example.com." is "example.com". */
    if (i > 1 && dst[i - 1] == '.')
        dst[i - 1] = '\0';
}

int sbx_net_rule_parse(const char *entry, const char *what, sbx_net_rule *r,
                       sbx_err *e)
{
    char host[320], prefix_txt[8] = "";
    const char *port_txt;

    memset(r, 0, sizeof *r);
    if (entry == NULL)
        return sbx_fail(e, SANDBOX_EINVAL, "%s is NULL: %s", what, FIX_FORMS);
    if (entry[0] == '\0')
        return bad(e, what, entry, "empty entry: " FIX_FORMS);
    if (strlen(entry) > 300)
        return bad(e, what, entry, "longer than 300 characters");
    for (const char *p = entry; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return bad(e, what, entry,
                       "contains white space or a control character: write "
                       "one destination per entry, e.g. example.com:443");
    if (strstr(entry, "://") != NULL)
        return bad(e, what, entry,
                   "a URL is not a destination: write host:port, e.g. "
                   "api.example.com:443 for https://api.example.com");

    if (entry[0] == '[') {
        /* [v6]:port, [v6/len]:port or [v6]/len:port */
        const char *close = strchr(entry, ']');
        if (close == NULL)
            return bad(e, what, entry,
                       "an IPv6 address opened with '[' is not closed: "
                       "write [2001:db8::1]:443");
        size_t n = (size_t)(close - entry - 1);
        if (n >= sizeof host)
            return bad(e, what, entry, "the address is too long");
        memcpy(host, entry + 1, n);
        host[n] = '\0';
        const char *rest = close + 1;
        if (*rest == '/') {
            const char *colon = strchr(rest, ':');
            size_t l = colon ? (size_t)(colon - rest - 1) : strlen(rest + 1);
            if (strchr(host, '/') != NULL || l == 0 || l >= sizeof prefix_txt)
                return bad(e, what, entry,
                           "the prefix length is malformed: write "
                           "[fd00::]/8:443");
            memcpy(prefix_txt, rest + 1, l);
            prefix_txt[l] = '\0';
            rest += 1 + l;
        }
        if (*rest != ':')
            return bad(e, what, entry,
                       "missing :PORT after the IPv6 address: write "
                       "[2001:db8::1]:443");
        port_txt = rest + 1;
    } else {
        const char *colon = strrchr(entry, ':');
        if (colon == NULL)
            return bad(e, what, entry,
                       "missing :PORT: every entry names its port, e.g. "
                       "example.com:443");
        if (strchr(entry, ':') != colon)
            return bad(e, what, entry,
                       "an IPv6 address needs brackets: write "
                       "[2001:db8::1]:443");
        size_t n = (size_t)(colon - entry);
        if (n >= sizeof host)
            return bad(e, what, entry, "the host is too long");
        memcpy(host, entry, n);
        host[n] = '\0';
        port_txt = colon + 1;
    }
    int prc = parse_port(port_txt, &r->port);
    if (prc == -2)
        return bad(e, what, entry,
                   "the port must be between 1 and 65535 (0 and larger "
                   "numbers are not ports)");
    if (prc < 0)
        return bad(e, what, entry,
                   "the port is not a number: write a decimal port "
                   "between 1 and 65535 after the last ':'");

    /* An address or a network? */
    char *slash = strchr(host, '/');
    if (slash != NULL) {
        if (prefix_txt[0] != '\0')
            return bad(e, what, entry, "two prefix lengths");
        size_t l = strlen(slash + 1);
        if (l == 0 || l >= sizeof prefix_txt)
            return bad(e, what, entry,
                       "the prefix length is malformed: write "
                       "10.0.0.0/8:443");
        memcpy(prefix_txt, slash + 1, l + 1);
        *slash = '\0';
    }
    sbx_net_addr a;
    if (sbx_net_parse_ip(host, &a)) {
        unsigned max = a.family == AF_INET ? 32 : 128;
        unsigned len = max;
        if (a.family == AF_INET6 && entry[0] != '[')
            return bad(e, what, entry,
                       "an IPv6 address needs brackets: write "
                       "[2001:db8::1]:443");
        if (prefix_txt[0] != '\0') {
            len = 0;
            for (const char *p = prefix_txt; *p; p++) {
                if (!isdigit((unsigned char)*p))
                    return bad(e, what, entry,
                               "the prefix length is not a number");
                len = len * 10 + (unsigned)(*p - '0');
                if (len > max)
                    break;
            }
            if (len > max || (a.family == AF_INET && len > 32))
                return sbx_fail(e, SANDBOX_EINVAL,
                                "%s '%s': the prefix length must be at most "
                                "%u for an IPv%d network",
                                what, entry, max, a.family == AF_INET ? 4 : 6);
        }
        if (!host_bits_clear(a.a, a.family == AF_INET ? 4 : 16, len)) {
            char net[64];
            sbx_net_addr m = a;
            for (unsigned i = 0; i < (a.family == AF_INET ? 4u : 16u); i++) {
                unsigned bit0 = i * 8;
                uint8_t keep = bit0 + 8 <= len ? 0xff
                               : bit0 >= len
                                   ? 0
                                   : (uint8_t)(0xff << (8 - (len - bit0)));
                m.a[i] &= keep;
            }
            sbx_net_addr_str(&m, net, sizeof net);
            return sbx_fail(e, SANDBOX_EINVAL,
                            "%s '%s': the address has bits set beyond the "
                            "/%u prefix: write the network, %s%s%s/%u:%u",
                            what, entry, len, a.family == AF_INET6 ? "[" : "",
                            net, a.family == AF_INET6 ? "]" : "", len,
                            (unsigned)r->port);
        }
        r->kind = SBX_NET_CIDR;
        r->net = a;
        r->prefix = len;
        return 0;
    }
    if (prefix_txt[0] != '\0')
        return bad(e, what, entry,
                   "a prefix length needs an IP address before it, e.g. "
                   "10.0.0.0/8:443");
    if (entry[0] == '[')
        return bad(e, what, entry,
                   "the text in brackets is not an IPv6 address");
    if (strcmp(host, "*") == 0)
        return bad(e, what, entry,
                   "'*' would allow every host: name the hosts (or use "
                   "network bridge if the box may reach anything)");
    const char *name = host;
    r->kind = SBX_NET_NAME;
    if (strncmp(host, "*.", 2) == 0) {
        name = host + 2;
        r->kind = SBX_NET_SUFFIX;
    }
    char lname[SBX_NET_NAME_MAX + 2];
    if (strlen(name) > SBX_NET_NAME_MAX + 1)
        return bad(e, what, entry,
                   "the host name is longer than 253 characters");
    lower_copy(lname, name, sizeof lname);
    const char *why = name_problem(lname);
    if (why != NULL) {
        char msg[256];
        if (strstr(why, "as in") != NULL)
            snprintf(msg, sizeof msg, "%s", why);
        else
            snprintf(msg, sizeof msg, "%s; e.g. api.example.com:443", why);
        return bad(e, what, entry, msg);
    }
    if (r->kind == SBX_NET_SUFFIX && strchr(lname, '.') == NULL)
        return bad(e, what, entry,
                   "a wildcard over a top-level domain allows too much: "
                   "write *.example.com:443, not *.com:443");
    size_t ln = strlen(lname);
    if (ln >= sizeof r->name)
        return bad(e, what, entry, "the host name is too long");
    memcpy(r->name, lname, ln + 1);
    return 0;
}

int sbx_netpolicy_parse(sbx_netpolicy *p, const char *const *entries, size_t n,
                        sbx_err *e)
{
    memset(p, 0, sizeof *p);
    if (n == 0)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "network allowlist with an empty allow-list would "
                        "deny everything: name at least one destination "
                        "(opts.allow, --allow HOST:PORT), or use network "
                        "none");
    if (entries == NULL)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "allow is NULL but n_allow is %zu: pass the array", n);
    if (n > SBX_NET_MAX_RULES)
        return sbx_fail(e, SANDBOX_EINVAL,
                        "the allow-list has %zu entries, more than %d: use "
                        "*.domain:port or IP/CIDR entries to cover many",
                        n, SBX_NET_MAX_RULES);
    p->rules = calloc(n, sizeof *p->rules);
    if (p->rules == NULL)
        return sbx_fail(e, SANDBOX_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "allow[%zu]", i);
        int rc = sbx_net_rule_parse(entries[i], what, &p->rules[i], e);
        if (rc < 0) {
            sbx_netpolicy_free(p);
            return rc;
        }
    }
    p->n = n;
    return 0;
}

void sbx_netpolicy_free(sbx_netpolicy *p)
{
    free(p->rules);
    p->rules = NULL;
    p->n = 0;
}

typedef struct special_net {
    uint8_t a[16];
    unsigned len;
    const char *what;
} special_net;

static const special_net v4_special[] = {
    {{0}, 8, "unspecified"},
    {{10}, 8, "private"},
    {{100, 64}, 10, "shared (CGNAT)"},
    {{127}, 8, "loopback"},
    {{169, 254}, 16, "link-local"},
    {{172, 16}, 12, "private"},
    {{192, 0, 0}, 24, "IETF-reserved"},
    {{192, 0, 2}, 24, "documentation"},
    {{192, 168}, 16, "private"},
    {{198, 18}, 15, "benchmarking"},
    {{198, 51, 100}, 24, "documentation"},
    {{203, 0, 113}, 24, "documentation"},
    {{224}, 4, "multicast"},
    {{240}, 4, "reserved/broadcast"},
};

static const special_net v6_special[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0x01, 0x00}, 64, "discard-only"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x20, 0x01, 0x00, 0x00}, 32, "Teredo"},
    {{0xfc}, 7, "unique-local (private)"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local"},
    {{0xff}, 8, "multicast"},
};

static const char *v4_class(const uint8_t *a)
{
    for (size_t i = 0; i < sizeof v4_special / sizeof *v4_special; i++)
        if (prefix_match(a, v4_special[i].a, v4_special[i].len))
            return v4_special[i].what;
    return NULL;
}

const char *sbx_net_special(const sbx_net_addr *a)
{
    if (a->family == AF_INET)
        return v4_class(a->a);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t compat[12] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    /* Addresses that carry an IPv4 address are judged by it. */
    if (memcmp(a->a, mapped, 12) == 0 || memcmp(a->a, nat64, 12) == 0) {
        const char *c = v4_class(a->a + 12);
        return c ? c : NULL;
    }
    if (a->a[0] == 0x20 && a->a[1] == 0x02) /* 6to4: 2002:V4ADDR::/48 */
        return v4_class(a->a + 2);
    for (size_t i = 0; i < sizeof v6_special / sizeof *v6_special; i++)
        if (prefix_match(a->a, v6_special[i].a, v6_special[i].len))
            return v6_special[i].what;
    if (memcmp(a->a, compat, 12) == 0) /* ::A.B.C.D, deprecated */
        return "IPv4-compatible (deprecated)";
    return NULL;
}

bool sbx_netpolicy_ip_allowed(const sbx_netpolicy *p, const sbx_net_addr *a,
                              uint16_t port)
{
    sbx_net_addr v4;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};
    /* ::ffff:A.B.C.D is A.B.C.D for the rules too. */
    if (a->family == AF_INET6 && memcmp(a->a, mapped, 12) == 0) {
        memset(&v4, 0, sizeof v4);
        v4.family = AF_INET;
        memcpy(v4.a, a->a + 12, 4);
        a = &v4;
    }
    for (size_t i = 0; i < p->n; i++) {
        const sbx_net_rule *r = &p->rules[i];
        if (r->kind == SBX_NET_CIDR && r->port == port &&
            r->net.family == a->family &&
            prefix_match(a->a, r->net.a, r->prefix))
            return true;
    }
    return false;
}

bool sbx_netpolicy_name_allowed(const sbx_netpolicy *p, const char *name,
                                uint16_t port, char *why, size_t n)
{
    char lname[SBX_NET_NAME_MAX + 2];
    bool other_port = false;
    if (strlen(name) > SBX_NET_NAME_MAX + 1 || name_problem(name) != NULL) {
        lower_copy(lname, name, sizeof lname);
        if (strlen(name) > SBX_NET_NAME_MAX + 1 ||
            name_problem(lname) != NULL) {
            snprintf(why, n, "'%.80s' is not a valid host name", name);
            return false;
        }
    }
    lower_copy(lname, name, sizeof lname);
    size_t ln = strlen(lname);
    for (size_t i = 0; i < p->n; i++) {
        const sbx_net_rule *r = &p->rules[i];
        bool match = false;
        if (r->kind == SBX_NET_NAME)
            match = strcmp(lname, r->name) == 0;
        else if (r->kind == SBX_NET_SUFFIX) {
            size_t rn = strlen(r->name);
            match = ln > rn + 1 && lname[ln - rn - 1] == '.' &&
                    strcmp(lname + ln - rn, r->name) == 0;
        }
        if (match && r->port == port)
            return true;
        if (match)
            other_port = true;
    }
    if (other_port)
        snprintf(why, n,
                 "port %u is not allowed for %s (the allow-list names it "
                 "with another port)",
                 (unsigned)port, lname);
    else
        snprintf(why, n, "%s:%u is not in the allow-list", lname,
                 (unsigned)port);
    return false;
}

bool sbx_net_decide(const sbx_netpolicy *p, const char *host, uint16_t port,
                    const sbx_net_addr *addrs, size_t n_addrs, char *why,
                    size_t n)
{
    sbx_net_addr lit;
    char txt[64];
    if (sbx_net_parse_ip(host, &lit)) {
        if (sbx_netpolicy_ip_allowed(p, &lit, port)) {
            snprintf(why, n, "IP rule");
            return true;
        }
        sbx_net_addr_str(&lit, txt, sizeof txt);
        snprintf(why, n,
                 "%s:%u is a bare IP address, which only an IP rule can "
                 "allow (a name rule does not)",
                 txt, (unsigned)port);
        return false;
    }
    if (!sbx_netpolicy_name_allowed(p, host, port, why, n))
        return false;
    if (n_addrs == 0) {
        snprintf(why, n, "%.200s did not resolve", host);
        return false;
    }
    bool via_ip = false;
    for (size_t i = 0; i < n_addrs; i++) {
        if (sbx_netpolicy_ip_allowed(p, &addrs[i], port)) {
            via_ip = via_ip || sbx_net_special(&addrs[i]) != NULL;
            continue;
        }
        const char *cls = sbx_net_special(&addrs[i]);
        if (cls != NULL) {
            sbx_net_addr_str(&addrs[i], txt, sizeof txt);
            snprintf(why, n,
                     "%.200s resolves to %s, a %s address that no IP rule "
                     "allows",
                     host, txt, cls);
            return false;
        }
    }
    snprintf(why, n,
             via_ip ? "name rule; its non-public address by an IP rule"
                    : "name rule");
    return true;
}
