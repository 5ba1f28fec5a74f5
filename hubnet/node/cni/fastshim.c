/* hubnet CNI plugin, compiled fast path: forward the CNI_* environment and stdin to the warm agent, print its answer.
 *
 * Built with the package (setup.py -> hubnet/node/cni/fastbuild.py), never on the node: one binary for every node.
 * It reads one thing of the network config on stdin, the top-level "agentSocket" string, and validates nothing
 * else: the agent runs the skel on what it receives (hubnet/node/cnilib/wire.py is the format).
 *
 * Request : "HNRAW1\n" then every CNI_* variable as "NAME=VALUE\0", then "\0", then stdin up to EOF (SHUT_WR).
 * Answer  : "<exit status>\n" then the exact bytes to print on stdout.
 *
 * Anything it cannot forward is left to the Python shim, `<this program>-shim` (execv, same environment, stdin
 * replayed), which answers with the same skel code: VERSION, a missing CNI_COMMAND, an unreadable stdin (code 5),
 * a config without a usable "agentSocket" (the shim reports a bad config, or uses its default socket), an agent
 * that is not reachable (the shim then does ADD -> 11, DEL releases the reservation from the file store, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <limits.h>

#define MAGIC "HNRAW1\n"
#define FALLBACK_SUFFIX "-shim"
#define MAX_DEPTH 512 /* deeper configs go to the Python shim (which reports them as it does) */
#define MAX_STDIN (64u << 20)  /* network configs are kilobytes; GC lists stay far below this */
#define MAX_ANSWER (16u << 20)
#define TIMEOUT_SECONDS 120

extern char **environ;

static char *buf;  /* stdin, read once: replayed to the fallback through a memfd */
static size_t buf_len, buf_cap;
static const char *self; /* argv[0]: the fallback is this path + "-shim" */

static void fail(int code, const char *msg) {
    /* The same error JSON shape as skel.CniError.to_json; msg is a fixed ASCII string. */
    printf("{\"cniVersion\":\"1.1.0\",\"code\":%d,\"msg\":\"%s\",\"details\":\"\"}", code, msg);
    fflush(stdout);
    exit(1);
}

static void fallback(int replay) {
    /* Next to the program as the runtime ran it (libcni passes the full path as argv[0]); /proc/self/exe when argv[0]
     * holds no directory. */
    static char path[PATH_MAX + sizeof(FALLBACK_SUFFIX)];
    char *argv[] = {path, NULL};
    size_t n = self ? strlen(self) : 0;
    if (n > 0 && n < PATH_MAX && strchr(self, '/')) {
        memcpy(path, self, n);
    } else {
        ssize_t got = readlink("/proc/self/exe", path, PATH_MAX - 1);
        if (got <= 0) fail(999, "hubnet plugin: cannot find its own path to run the Python shim");
        n = (size_t)got;
    }
    memcpy(path + n, FALLBACK_SUFFIX, sizeof(FALLBACK_SUFFIX));
    if (replay) {
        int fd = memfd_create("hubnet-stdin", MFD_CLOEXEC);
        size_t off = 0;
        if (fd < 0) fail(999, "hubnet plugin: memfd_create failed");
        while (off < buf_len) {
            ssize_t n = write(fd, buf + off, buf_len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail(999, "hubnet plugin: cannot replay stdin");
            off += (size_t)n;
        }
        if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) fail(999, "hubnet plugin: cannot replay stdin");
        close(fd);  /* CLOEXEC only on the memfd itself; fd 0 stays open across execv */
    }
    execv(path, argv);
    fail(999, "hubnet plugin: cannot execute the Python shim next to the plugin (<plugin>-shim)");
}

static int read_stdin(void) {
    for (;;) {
        if (buf_len == buf_cap) {
            size_t cap = buf_cap ? buf_cap * 2 : 65536;
            char *grown;
            if (cap > MAX_STDIN) fail(5, "hubnet plugin: network config larger than 64 MiB");
            grown = realloc(buf, cap);
            if (!grown) fail(999, "hubnet plugin: out of memory");
            buf = grown;
            buf_cap = cap;
        }
        ssize_t n = read(0, buf + buf_len, buf_cap - buf_len);
        if (n > 0) buf_len += (size_t)n;
        else if (n == 0) return 0;
        else if (errno != EINTR) return -1;
    }
}

static int write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* --- the top-level "agentSocket" of the network config ------------------------------------------------------------
 * A strict reader of JSON syntax that decodes nothing but strings and skips every value whole, so a nested
 * "agentSocket" (in prevResult, runtimeConfig, args) is never taken for the real one; like Python's json the last
 * of duplicate members wins. Anything it does not handle (malformed JSON, a non-string or empty value, a \u escape
 * beyond ASCII, a path too long for sun_path) is left to the Python shim, which decides as the agent would. */
typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The string at c->p, decoded into out[cap] when out is given; 0 or -1 (malformed). *usable is 0 when it did not
 * fit or holds a NUL or non-ASCII \u escape. */
static int read_string(cursor *c, char *out, size_t cap, int *usable) {
    size_t n = 0;
    *usable = out != NULL;
    if (c->p >= c->end || *c->p != '"') return -1;
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"') {
            if (*usable) out[n] = '\0';
            return 0;
        }
        if (ch < 0x20) return -1;
        if (ch == '\\') {
            if (c->p >= c->end) return -1;
            switch (ch = (unsigned char)*c->p++) {
            case '"': case '\\': case '/': break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int d = c->p < c->end ? hex(*c->p++) : -1;
                    if (d < 0) return -1;
                    v = v * 16 + (unsigned)d;
                }
                if (v == 0 || v > 0x7f) *usable = 0;
                ch = (unsigned char)v;
                break;
            }
            default: return -1;
            }
        }
        if (*usable) {
            if (n + 1 >= cap) *usable = 0;
            else out[n++] = (char)ch;
        }
    }
    return -1;
}

static int skip_value(cursor *c, int depth) {
    int usable;
    skip_ws(c);
    if (c->p >= c->end) return -1;
    if (*c->p == '"') return read_string(c, NULL, 0, &usable);
    if (*c->p == '{' || *c->p == '[') {
        char close = *c->p == '{' ? '}' : ']';
        if (depth >= MAX_DEPTH) return -1;
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) return c->p++, 0;
        for (;;) {
            if (close == '}') {
                skip_ws(c);
                if (read_string(c, NULL, 0, &usable) != 0) return -1;
                skip_ws(c);
                if (c->p >= c->end || *c->p++ != ':') return -1;
            }
            if (skip_value(c, depth + 1) != 0) return -1;
            skip_ws(c);
            if (c->p >= c->end) return -1;
            if (*c->p == ',') c->p++;
            else return *c->p++ == close ? 0 : -1;
        }
    }
    const char *start = c->p; /* number, true, false, null: the agent's parser judges them */
    while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || (*c->p >= 'a' && *c->p <= 'z') || *c->p == '-' ||
                             *c->p == '+' || *c->p == '.' || *c->p == 'E'))
        c->p++;
    return c->p > start ? 0 : -1;
}

/* 0 with the path in out[cap], or -1: leave it to the Python shim. */
static int agent_socket(const char *data, size_t len, char *out, size_t cap) {
    cursor c = {data, data + len};
    char key[sizeof("agentSocket") + 1];
    int found = 0, usable;
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{') return -1;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') return -1; /* {}: no agentSocket */
    for (;;) {
        skip_ws(&c);
        if (read_string(&c, key, sizeof(key), &usable) != 0) return -1;
        int ours = usable && strcmp(key, "agentSocket") == 0;
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':') return -1;
        skip_ws(&c);
        if (ours && c.p < c.end && *c.p == '"') {
            if (read_string(&c, out, cap, &usable) != 0) return -1;
            found = usable && out[0] != '\0'; /* "" means the default socket: the shim knows it */
        } else {
            if (ours) found = 0; /* not a string: the shim decides */
            if (skip_value(&c, 1) != 0) return -1;
        }
        skip_ws(&c);
        if (c.p >= c.end) return -1;
        if (*c.p == ',') c.p++;
        else if (*c.p++ == '}') break;
        else return -1;
    }
    skip_ws(&c);
    return c.p == c.end && found ? 0 : -1;
}

static int connect_agent(const char *path) {
    struct sockaddr_un addr;
    struct timeval tv = {TIMEOUT_SECONDS, 0};
    int fd, attempt;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path)); /* agent_socket() made sure it fits */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    for (attempt = 0; attempt < 200; attempt++) {
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) return fd;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) break;  /* backlog full during a burst: retry, like the Python shim */
        struct timespec pause = {0, 5000000L * (attempt < 20 ? attempt + 1 : 20)};
        nanosleep(&pause, NULL);
    }
    close(fd);
    return -1;
}

static int send_request(int fd) {
    char **env;
    if (write_all(fd, MAGIC, sizeof(MAGIC) - 1) != 0) return -1;
    for (env = environ; *env; env++) {
        if (strncmp(*env, "CNI_", 4) == 0 && write_all(fd, *env, strlen(*env) + 1) != 0) return -1;
    }
    if (write_all(fd, "", 1) != 0 || write_all(fd, buf, buf_len) != 0) return -1;
    return shutdown(fd, SHUT_WR);
}

int main(int argc, char **argv) {
    const char *command = getenv("CNI_COMMAND");
    char *answer = NULL, *body, *end;
    char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t len = 0, cap = 0;
    long status;
    int fd;

    self = argc > 0 ? argv[0] : NULL;
    signal(SIGPIPE, SIG_IGN);  /* an agent that goes away mid-request is an error, not a silent death */
    if (!command || !*command || strcmp(command, "VERSION") == 0) fallback(0);
    if (read_stdin() != 0) fallback(0);  /* unreadable stdin: the shim reports it (code 5) */
    if (agent_socket(buf, buf_len, socket_path, sizeof(socket_path)) != 0) fallback(1);
    fd = connect_agent(socket_path);
    if (fd < 0) fallback(1);
    if (send_request(fd) != 0) fail(5, "hubnet plugin: sending the request to the hubnet agent failed");
    for (;;) {
        if (len == cap) {
            char *grown;
            cap = cap ? cap * 2 : 16384;
            if (cap > MAX_ANSWER) fail(5, "hubnet plugin: answer from the hubnet agent too large");
            grown = realloc(answer, cap + 1);
            if (!grown) fail(999, "hubnet plugin: out of memory");
            answer = grown;
        }
        ssize_t n = read(fd, answer + len, cap - len);
        if (n > 0) len += (size_t)n;
        else if (n == 0) break;
        else if (errno != EINTR) fail(5, "hubnet plugin: reading the answer of the hubnet agent failed");
    }
    close(fd);
    if (!answer || !(body = memchr(answer, '\n', len)))
        fail(5, "hubnet agent closed the connection without an answer");
    answer[len] = '\0';
    errno = 0;
    status = strtol(answer, &end, 10);
    if (errno || end == answer || end != body || status < 0 || status > 255) fail(5, "hubnet plugin: malformed answer from the hubnet agent");
    body++;
    if (write_all(1, body, len - (size_t)(body - answer)) != 0) return 1;
    return (int)status;
}
