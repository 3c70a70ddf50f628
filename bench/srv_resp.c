/*
 * srv_resp — a small Redis-protocol (RESP2) key-value server on weft's public
 * API, one of the servers bench/realclients.sh measures with redis-benchmark
 * (bench/REALCLIENTS.md).
 *
 * Commands (names in any case): PING [msg], ECHO msg, SET key value,
 * GET key, INCR key, DEL key..., EXISTS key..., and CONFIG GET param, which
 * redis-benchmark asks on connect ("save" and "appendonly": persistence is
 * off; any other parameter: none).  Requests come as RESP arrays of bulk
 * strings or as inline commands ("PING\r\n", as redis-benchmark's
 * PING_INLINE sends them), pipelined or not; a request larger than the
 * connection's 16 KiB buffer closes it with an error.
 *
 * Every connection is a task (weft_serve); the keys live in one hash table
 * under a weft lock (nothing inside it waits: the answer is appended to the
 * connection's output, which is sent after the lock is released).
 *
 * usage: srv_resp [-p PORT] [-w N]   (see srv.h; SIGUSR1 prints statistics)
 */
#include "srv.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdint.h>
#include <strings.h>

#define MAX_ARGS 64 /* arguments of one command */

/* ------------------------------------------------------------------ the store */

typedef struct kv_entry_t {
    struct kv_entry_t *next;
    char *value;
    size_t value_len, key_len;
    char key[]; /* key_len bytes */
} kv_entry_t;

typedef struct kv_store_t {
    weft_lock_t *lock;
    kv_entry_t **buckets;
    size_t n_buckets, count;
} kv_store_t;

static uint64_t kv_hash(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* Under the lock: the entry's link (*link is NULL when the key is absent). */
static kv_entry_t **kv_find(kv_store_t *kv, const char *key, size_t len)
{
    kv_entry_t **link = &kv->buckets[kv_hash(key, len) & (kv->n_buckets - 1)];
    while (*link && ((*link)->key_len != len || memcmp((*link)->key, key, len) != 0))
        link = &(*link)->next;
    return link;
}

/* Under the lock: twice the buckets once there are as many keys as buckets. */
static void kv_grow(kv_store_t *kv)
{
    size_t n = kv->n_buckets * 2;
    kv_entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < kv->n_buckets; i++) {
        for (kv_entry_t *e = kv->buckets[i], *next; e; e = next) {
            next = e->next;
            kv_entry_t **head = &b[kv_hash(e->key, e->key_len) & (n - 1)];
            e->next = *head;
            *head = e;
        }
    }
    free(kv->buckets);
    kv->buckets = b;
    kv->n_buckets = n;
}

/* Under the lock: set key to value (copied). */
static int kv_set(kv_store_t *kv, const char *key, size_t klen, const char *val, size_t vlen)
{
    char *copy = malloc(vlen ? vlen : 1);
    if (!copy)
        return WEFT_ENOMEM;
    memcpy(copy, val, vlen);
    kv_entry_t **link = kv_find(kv, key, klen);
    if (!*link) {
        kv_entry_t *e = malloc(sizeof *e + klen);
        if (!e) {
            free(copy);
            return WEFT_ENOMEM;
        }
        memcpy(e->key, key, klen);
        e->key_len = klen;
        e->value = NULL;
        e->next = NULL;
        *link = e;
        if (++kv->count > kv->n_buckets)
            kv_grow(kv);
        link = kv_find(kv, key, klen);
    }
    free((*link)->value);
    (*link)->value = copy;
    (*link)->value_len = vlen;
    return 0;
}

/* Under the lock: remove key; 1 if it was there. */
static int kv_del(kv_store_t *kv, const char *key, size_t klen)
{
    kv_entry_t **link = kv_find(kv, key, klen);
    kv_entry_t *e = *link;
    if (!e)
        return 0;
    *link = e->next;
    free(e->value);
    free(e);
    kv->count--;
    return 1;
}

static int kv_init(kv_store_t *kv)
{
    kv->n_buckets = 1024;
    kv->count = 0;
    kv->buckets = calloc(kv->n_buckets, sizeof *kv->buckets);
    if (!kv->buckets)
        return WEFT_ENOMEM;
    return weft_lock_new(&kv->lock);
}

/* ------------------------------------------------------------------ requests */

typedef struct resp_cmd_t {
    int argc;
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
} resp_cmd_t;

/* Parse "<digits>\r\n" at p[0 .. end): the number, *next after the CRLF;
 * -1 malformed, -2 incomplete. */
static long long parse_count(const char *p, const char *end, const char **next)
{
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
        return end - p > 20 ? -1 : -2;
    long long v = 0;
    if (p == eol || eol - p > 9)
        return -1;
    for (; p < eol; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *next = eol + 2;
    return v;
}

/* "*<n>\r\n" then n times "$<len>\r\n<bytes>\r\n".  As parse_request. */
static int parse_array(const char *p, size_t n, resp_cmd_t *cmd, size_t *used)
{
    const char *end = p + n, *q;
    long long argc = parse_count(p + 1, end, &q);
    if (argc < 0)
        return argc == -2 ? 0 : -1;
    if (argc < 1 || argc > MAX_ARGS)
        return -1;
    for (int i = 0; i < argc; i++) {
        if (q == end)
            return 0;
        if (*q != '$')
            return -1;
        long long len = parse_count(q + 1, end, &q);
        if (len < 0)
            return len == -2 ? 0 : -1;
        if (end - q < len + 2)
            return 0;
        if (q[len] != '\r' || q[len + 1] != '\n')
            return -1;
        cmd->argv[i] = q;
        cmd->len[i] = (size_t)len;
        q += len + 2;
    }
    cmd->argc = (int)argc;
    *used = (size_t)(q - p);
    return 1;
}

/* An inline command: words separated by spaces, up to CRLF (or LF). */
static int parse_inline(const char *p, size_t n, resp_cmd_t *cmd, size_t *used)
{
    const char *eol = memchr(p, '\n', n);
    if (!eol)
        return 0;
    *used = (size_t)(eol - p) + 1;
    const char *end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    cmd->argc = 0;
    for (const char *q = p; q < end;) {
        if (*q == ' ') {
            q++;
            continue;
        }
        const char *w = q;
        while (q < end && *q != ' ')
            q++;
        if (cmd->argc == MAX_ARGS)
            return -1;
        cmd->argv[cmd->argc] = w;
        cmd->len[cmd->argc++] = (size_t)(q - w);
    }
    return 1;
}

/* The command at p[0 .. n): 1 with *cmd and *used (its bytes), 0 when more
 * bytes are needed, -1 when it is malformed.  cmd's arguments point into p. */
static int parse_command(const char *p, size_t n, resp_cmd_t *cmd, size_t *used)
{
    if (n == 0)
        return 0;
    return p[0] == '*' ? parse_array(p, n, cmd, used) : parse_inline(p, n, cmd, used);
}

/* ------------------------------------------------------------------ answers */

static int reply_bulk(srv_conn_t *c, const char *p, size_t n)
{
    char head[32];
    int k = snprintf(head, sizeof head, "$%zu\r\n", n);
    int rc = srv_conn_append(c, head, (size_t)k);
    if (rc == 0)
        rc = srv_conn_append(c, p, n);
    return rc != 0 ? rc : srv_conn_append(c, "\r\n", 2);
}

static int reply_int(srv_conn_t *c, long long v)
{
    char line[32];
    int k = snprintf(line, sizeof line, ":%lld\r\n", v);
    return srv_conn_append(c, line, (size_t)k);
}

static int reply_error(srv_conn_t *c, const char *msg)
{
    int rc = srv_conn_append_str(c, "-ERR ");
    if (rc == 0)
        rc = srv_conn_append_str(c, msg);
    return rc != 0 ? rc : srv_conn_append(c, "\r\n", 2);
}

/* ------------------------------------------------------------------ commands */

typedef struct resp_server_t {
    kv_store_t kv;
    atomic_ullong commands;
} resp_server_t;

static int arg_is(const resp_cmd_t *cmd, int i, const char *word)
{
    return cmd->len[i] == strlen(word) && strncasecmp(cmd->argv[i], word, cmd->len[i]) == 0;
}

/* A decimal int64 as Redis reads one: an optional '-', digits, no
 * leading '+' or spaces, no overflow. */
static int parse_int64(const char *p, size_t n, int64_t *out)
{
    int neg = n > 0 && p[0] == '-';
    size_t i = (size_t)neg;
    if (i == n || n - i > 19)
        return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* Under the lock: INCR's answer. */
static int incr_locked(kv_store_t *kv, srv_conn_t *c, const char *key, size_t klen)
{
    kv_entry_t *e = *kv_find(kv, key, klen);
    int64_t v = 0;
    if (e && parse_int64(e->value, e->value_len, &v) != 0)
        return reply_error(c, "value is not an integer or out of range");
    if (v == INT64_MAX)
        return reply_error(c, "increment or decrement would overflow");
    char digits[24];
    int k = snprintf(digits, sizeof digits, "%" PRId64, v + 1);
    int rc = kv_set(kv, key, klen, digits, (size_t)k);
    return rc != 0 ? rc : reply_int(c, v + 1);
}

/* Under the lock: GET, SET, INCR, DEL, EXISTS. */
static int exec_locked(kv_store_t *kv, srv_conn_t *c, const resp_cmd_t *cmd)
{
    if (arg_is(cmd, 0, "GET")) {
        kv_entry_t *e = *kv_find(kv, cmd->argv[1], cmd->len[1]);
        return e ? reply_bulk(c, e->value, e->value_len) : srv_conn_append_str(c, "$-1\r\n");
    }
    if (arg_is(cmd, 0, "SET")) {
        int rc = kv_set(kv, cmd->argv[1], cmd->len[1], cmd->argv[2], cmd->len[2]);
        return rc != 0 ? rc : srv_conn_append_str(c, "+OK\r\n");
    }
    if (arg_is(cmd, 0, "INCR"))
        return incr_locked(kv, c, cmd->argv[1], cmd->len[1]);
    long long n = 0; /* DEL or EXISTS: how many of the keys */
    for (int i = 1; i < cmd->argc; i++)
        n += arg_is(cmd, 0, "DEL") ? kv_del(kv, cmd->argv[i], cmd->len[i])
                                   : *kv_find(kv, cmd->argv[i], cmd->len[i]) != NULL;
    return reply_int(c, n);
}

/* The commands of the store and how many arguments they take (name
 * included; negative: at least that many). */
static const struct {
    const char *name;
    int argc;
} store_commands[] = {{"GET", 2}, {"SET", 3}, {"INCR", 2}, {"DEL", -2}, {"EXISTS", -2}};

/* 1 if cmd is a store command with the right arguments, 0 if it is none,
 * -1 (after answering an error) if it has the wrong number of them. */
static int check_store_command(srv_conn_t *c, const resp_cmd_t *cmd, int *rc)
{
    for (size_t i = 0; i < sizeof store_commands / sizeof store_commands[0]; i++) {
        if (!arg_is(cmd, 0, store_commands[i].name))
            continue;
        int want = store_commands[i].argc;
        if (want > 0 ? cmd->argc == want : cmd->argc >= -want)
            return 1;
        *rc = reply_error(c, "wrong number of arguments");
        return -1;
    }
    return 0;
}

/* CONFIG GET param: what redis-benchmark asks on connect. */
static int exec_config(srv_conn_t *c, const resp_cmd_t *cmd)
{
    if (cmd->argc != 3 || !arg_is(cmd, 1, "GET"))
        return reply_error(c, "only CONFIG GET parameter is supported");
    const char *value = arg_is(cmd, 2, "save") ? "" : arg_is(cmd, 2, "appendonly") ? "no" : NULL;
    if (!value)
        return srv_conn_append_str(c, "*0\r\n");
    int rc = srv_conn_append_str(c, "*2\r\n");
    if (rc == 0)
        rc = reply_bulk(c, cmd->argv[2], cmd->len[2]);
    return rc != 0 ? rc : reply_bulk(c, value, strlen(value));
}

/* [checkpoint] Answer one command. */
static int exec_command(resp_server_t *srv, srv_conn_t *c, const resp_cmd_t *cmd)
{
    atomic_fetch_add_explicit(&srv->commands, 1, memory_order_relaxed);
    if (cmd->argc == 0)
        return 0; /* an empty inline line: Redis ignores it */
    int rc = 0;
    int store = check_store_command(c, cmd, &rc);
    if (store < 0)
        return rc;
    if (store > 0) {
        if ((rc = weft_lock_acquire(srv->kv.lock)) != 0)
            return rc;
        rc = exec_locked(&srv->kv, c, cmd);
        weft_lock_release(srv->kv.lock);
        return rc;
    }
    if (arg_is(cmd, 0, "PING") && cmd->argc <= 2)
        return cmd->argc == 1 ? srv_conn_append_str(c, "+PONG\r\n")
                              : reply_bulk(c, cmd->argv[1], cmd->len[1]);
    if (arg_is(cmd, 0, "ECHO") && cmd->argc == 2)
        return reply_bulk(c, cmd->argv[1], cmd->len[1]);
    if (arg_is(cmd, 0, "CONFIG"))
        return exec_config(c, cmd);
    return reply_error(c, "unknown command or wrong number of arguments");
}

/* ------------------------------------------------------------------ connections */

/* Answer an error and send what is pending: the connection then closes. */
static int reply_error_and_close(srv_conn_t *c, const char *msg)
{
    int rc = reply_error(c, msg);
    return rc != 0 ? rc : srv_conn_flush(c);
}

static int resp_handler(weft_stream_t *s, void *arg)
{
    resp_server_t *srv = arg;
    srv_conn_t *c = srv_conn_new(s);
    if (!c)
        return WEFT_ENOMEM;
    int rc;
    for (;;) {
        resp_cmd_t cmd;
        size_t used = 0;
        rc = parse_command(srv_conn_data(c), srv_conn_avail(c), &cmd, &used);
        if (rc == 0) {
            if ((rc = srv_conn_fill(c)) == -E2BIG) {
                rc = reply_error_and_close(c, "request too large");
                break;
            }
            if (rc < 0)
                break;
            continue;
        }
        if (rc < 0) {
            rc = reply_error_and_close(c, "Protocol error");
            break;
        }
        /* The arguments point into the input: consume it after the answer. */
        rc = exec_command(srv, c, &cmd);
        srv_conn_consume(c, used);
        if (rc != 0)
            break;
    }
    srv_conn_free(c);
    return srv_result(rc);
}

static void print_stats(void *arg)
{
    resp_server_t *srv = arg;
    printf(" commands=%llu", atomic_load_explicit(&srv->commands, memory_order_relaxed));
}

int main(int argc, char **argv)
{
    srv_args_t a = srv_parse_args(argc, argv, "RESP2: PING ECHO SET GET INCR DEL EXISTS CONFIG GET");
    static resp_server_t rs;
    if (kv_init(&rs.kv) != 0) {
        fprintf(stderr, "srv_resp: out of memory\n");
        return 1;
    }
    srv_t srv = {.name = "srv_resp", .handler = resp_handler, .arg = &rs,
                 .print_stats = print_stats};
    return srv_main(&a, &srv);
}
