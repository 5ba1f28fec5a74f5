/* hubnet CNI plugin, compiled fast path: forward the CNI_* environment and stdin to the warm agent, print its answer.
 *
 * The agent compiles this file when it installs the plugin (node_client/agent/fastbuild.py) with
 *   -DHUBNET_SOCKET="<agent socket path>" -DHUBNET_FALLBACK="<python shim wrapper path>"
 * It does no validation and parses no JSON: the agent runs the same skel code as the Python shim.
 *
 * Request : "HNRAW1\n" then every CNI_* variable as "NAME=VALUE\0", then "\0", then stdin up to EOF (SHUT_WR).
 * Answer  : "<exit status>\n" then the exact bytes to print on stdout.
 *
 * Anything the agent cannot answer is left to the Python shim (execv, same environment, stdin replayed):
 * VERSION, a missing CNI_COMMAND, an agent that is not reachable (the shim then does ADD -> 11, DEL releases the
 * reservation from the file store, ...), an unreadable stdin (the shim reports code 5).
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

#ifndef HUBNET_SOCKET
#error "compile with -DHUBNET_SOCKET=\"/path/agent.sock\""
#endif
#ifndef HUBNET_FALLBACK
#error "compile with -DHUBNET_FALLBACK=\"/path/hubnet-shim\""
#endif

#define MAGIC "HNRAW1\n"
#define MAX_STDIN (64u << 20)  /* network configs are kilobytes; GC lists stay far below this */
#define MAX_ANSWER (16u << 20)
#define TIMEOUT_SECONDS 120

extern char **environ;

static char *buf;  /* stdin, read once: replayed to the fallback through a memfd */
static size_t buf_len, buf_cap;

static void fail(int code, const char *msg) {
    /* The same error JSON shape as skel.CniError.to_json; msg is a fixed ASCII string. */
    printf("{\"cniVersion\":\"1.1.0\",\"code\":%d,\"msg\":\"%s\",\"details\":\"\"}", code, msg);
    fflush(stdout);
    exit(1);
}

static void fallback(int replay) {
    static char *const argv[] = {(char *)HUBNET_FALLBACK, NULL};
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
    execv(HUBNET_FALLBACK, argv);
    fail(999, "hubnet plugin: agent unreachable and the fallback shim " HUBNET_FALLBACK " cannot be executed");
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

static int connect_agent(void) {
    struct sockaddr_un addr;
    struct timeval tv = {TIMEOUT_SECONDS, 0};
    int fd, attempt;
    if (sizeof(HUBNET_SOCKET) > sizeof(addr.sun_path)) return -1;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, HUBNET_SOCKET, sizeof(HUBNET_SOCKET));
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

int main(void) {
    const char *command = getenv("CNI_COMMAND");
    char *answer = NULL, *body, *end;
    size_t len = 0, cap = 0;
    long status;
    int fd;

    signal(SIGPIPE, SIG_IGN);  /* an agent that goes away mid-request is an error, not a silent death */
    if (!command || !*command || strcmp(command, "VERSION") == 0) fallback(0);
    if (read_stdin() != 0) fallback(0);  /* unreadable stdin: the shim reports it (code 5) */
    fd = connect_agent();
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
