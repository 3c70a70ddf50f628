/*
 * kv_server — a small Redis-protocol (RESP2) key-value server that
 * redis-cli and redis-benchmark can talk to, with its keyspace saved to a
 * file now and then.  One file to read from top to bottom.
 *
 *   PING [msg]  ECHO msg  SET key value  GET key  INCR key  DEL key...
 *   EXISTS key...  DBSIZE  QUIT, and what clients ask on connect: CONFIG GET
 *   (redis-benchmark: "save", "appendonly"), COMMAND (redis-cli), CLIENT
 *   and SELECT 0 (answered OK), HELLO (refused: clients then speak RESP2).
 *   Commands come as RESP arrays of bulk strings or inline ("PING\r\n"),
 *   pipelined or not.
 *
 * How it is built:
 *   - every connection is a task (weft_serve_ex), with its argument buffers
 *     made by conn_open and freed by conn_close; a request is read with
 *     weft_stream_receive_until (the "*3", "$5" lines) and
 *     weft_stream_receive_exactly (each argument), so pipelined commands
 *     simply wait in the stream's buffer for their turn;
 *   - the keyspace is 16 shards, each a hash table behind a weft lock; a
 *     command holds one shard's lock at a time, never across a checkpoint
 *     (the answer is built under it and sent after);
 *   - every --snapshot-every seconds a task copies the shards one at a
 *     time (each under its lock) into memory, then writes the copy to
 *     --snapshot PATH on a blocking thread (weft_to_thread_run_sync: write
 *     a temporary file, rename it over the old one), while serving goes on;
 *   - SIGTERM / SIGINT cancel the server; a last snapshot is written; exit 0.
 *
 * The snapshot is a sequence of RESP arrays: *3 $3 SET $<n> key $<n> value.
 *
 * usage: kv_server [--port N] [--workers N] [--snapshot PATH] [--snapshot-every SECONDS]
 * Try:   kv_server --port 6380 &  redis-cli -p 6380 INCR hits  ...  kill -TERM %1
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weft.h>

#define SHARDS 16
#define MAX_ARGS 64
#define MAX_ARG_LEN (512 * 1024) /* a larger bulk string closes the connection */

/* ------------------------------------------------------------ the keyspace */

typedef struct entry {
    struct entry *next;
    char *value;
    size_t value_len, key_len;
    char key[];
} entry_t;

typedef struct shard {
    weft_lock_t *lock;
    entry_t **buckets;
    size_t n_buckets, count;
} shard_t;

static shard_t shards[SHARDS];

static uint64_t hash(const char *p, size_t n) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

/* The shard of a key: from the hash's top bits, the bucket from its bottom. */
static shard_t *shard_of(const char *key, size_t len) { return &shards[hash(key, len) >> 60]; }

/* Under the shard's lock: the entry's link (*link is NULL when absent). */
static entry_t **find(shard_t *sh, const char *key, size_t len) {
    entry_t **link = &sh->buckets[hash(key, len) & (sh->n_buckets - 1)];
    while (*link && ((*link)->key_len != len || memcmp((*link)->key, key, len) != 0))
        link = &(*link)->next;
    return link;
}

/* Double the buckets once there are as many keys as buckets. */
static void grow(shard_t *sh) {
    size_t n = sh->n_buckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < sh->n_buckets; i++)
        for (entry_t *e = sh->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_t **to = &b[hash(e->key, e->key_len) & (n - 1)];
            e->next = *to;
            *to = e;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->n_buckets = n;
}

/* Under the lock: set key to a copy of value.  0 or WEFT_ENOMEM. */
static int put(shard_t *sh, const char *key, size_t klen, const char *val, size_t vlen) {
    char *copy = malloc(vlen + 1);
    if (!copy) return WEFT_ENOMEM;
    memcpy(copy, val, vlen);
    entry_t **link = find(sh, key, klen);
    if (!*link) {
        entry_t *e = malloc(sizeof *e + klen);
        if (!e) {
            free(copy);
            return WEFT_ENOMEM;
        }
        *e = (entry_t){.key_len = klen};
        memcpy(e->key, key, klen);
        *link = e;
        if (++sh->count > sh->n_buckets) grow(sh);
        link = find(sh, key, klen);
    }
    free((*link)->value);
    (*link)->value = copy;
    (*link)->value_len = vlen;
    return 0;
}

static int del(shard_t *sh, const char *key, size_t klen) {
    entry_t **link = find(sh, key, klen), *e = *link;
    if (!e) return 0;
    *link = e->next;
    free(e->value);
    free(e);
    sh->count--;
    return 1;
}

static int keyspace_open(void) {
    for (int i = 0; i < SHARDS; i++) {
        shards[i].n_buckets = 64;
        shards[i].buckets = calloc(64, sizeof(entry_t *));
        if (!shards[i].buckets || weft_lock_new(&shards[i].lock) != 0) return WEFT_ENOMEM;
    }
    return 0;
}

static void keyspace_free(void) {
    for (int i = 0; i < SHARDS; i++) {
        shard_t *sh = &shards[i];
        for (size_t b = 0; sh->buckets && b < sh->n_buckets; b++)
            while (sh->buckets[b]) del(sh, sh->buckets[b]->key, sh->buckets[b]->key_len);
        free(sh->buckets);
        if (sh->lock) weft_lock_free(sh->lock);
    }
}

/* ------------------------------------------------------------ replies */

/* A growing byte buffer: the answer to one command, or a snapshot. */
typedef struct buf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory once: the contents are not to be used */
} buf_t;

static void put_bytes(buf_t *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void put_str(buf_t *b, const char *s) { put_bytes(b, s, strlen(s)); }

static void put_bulk(buf_t *b, const char *p, size_t n) {
    char head[32];
    put_bytes(b, head, (size_t)snprintf(head, sizeof head, "$%zu\r\n", n));
    put_bytes(b, p, n);
    put_bytes(b, "\r\n", 2);
}

static void put_int(buf_t *b, long long v) {
    char line[32];
    put_bytes(b, line, (size_t)snprintf(line, sizeof line, ":%lld\r\n", v));
}

/* ------------------------------------------------------------ commands */

/* One command's arguments (pointers into the connection's buffer). */
typedef struct conn {
    int argc;
    char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    char *data; /* every argument, each NUL-terminated */
    size_t data_cap;
    buf_t out;
} conn_t;

static int arg_is(const conn_t *c, int i, const char *word) {
    return c->len[i] == strlen(word) && strncasecmp(c->argv[i], word, c->len[i]) == 0;
}

/* GET, SET, INCR: one key, under its shard's lock.  0, or the lock's
 * error (a cancelled wait for it: the server is stopping). */
static int key_command(conn_t *c) {
    shard_t *sh = shard_of(c->argv[1], c->len[1]);
    int rc = weft_lock_acquire(sh->lock); /* waits only while another command holds it */
    if (rc) return rc;
    entry_t *e = *find(sh, c->argv[1], c->len[1]);
    if (arg_is(c, 0, "GET")) {
        if (e) put_bulk(&c->out, e->value, e->value_len);
        else put_str(&c->out, "$-1\r\n");
    } else if (arg_is(c, 0, "SET")) {
        put_str(&c->out, put(sh, c->argv[1], c->len[1], c->argv[2], c->len[2]) == 0
                             ? "+OK\r\n" : "-ERR out of memory\r\n");
    } else { /* INCR */
        char *end = NULL, text[32];
        long long v = 0;
        if (e) {
            memcpy(text, e->value, e->value_len < 31 ? e->value_len : 31);
            text[e->value_len < 31 ? e->value_len : 31] = '\0';
            errno = 0;
            v = strtoll(text, &end, 10);
        }
        if (e && (e->value_len == 0 || e->value_len > 20 || *end || errno || v == LLONG_MAX)) {
            put_str(&c->out, "-ERR value is not an integer or out of range\r\n");
        } else {
            v++;
            int n = snprintf(text, sizeof text, "%lld", v);
            if (put(sh, c->argv[1], c->len[1], text, (size_t)n) == 0) put_int(&c->out, v);
            else put_str(&c->out, "-ERR out of memory\r\n");
        }
    }
    return weft_lock_release(sh->lock);
}

/* DEL, EXISTS: any number of keys, one shard's lock at a time. */
static int keys_command(conn_t *c) {
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        shard_t *sh = shard_of(c->argv[i], c->len[i]);
        int rc = weft_lock_acquire(sh->lock);
        if (rc) return rc;
        n += arg_is(c, 0, "DEL") ? del(sh, c->argv[i], c->len[i])
                                 : *find(sh, c->argv[i], c->len[i]) != NULL;
        weft_lock_release(sh->lock);
    }
    put_int(&c->out, n);
    return 0;
}

static int dbsize(conn_t *c) {
    long long n = 0;
    for (int i = 0; i < SHARDS; i++) {
        int rc = weft_lock_acquire(shards[i].lock);
        if (rc) return rc;
        n += (long long)shards[i].count;
        weft_lock_release(shards[i].lock);
    }
    put_int(&c->out, n);
    return 0;
}

/* CONFIG GET param: redis-benchmark asks for "save" and "appendonly". */
static void config(conn_t *c) {
    if (c->argc != 3 || !arg_is(c, 1, "GET")) {
        put_str(&c->out, "-ERR only CONFIG GET is supported\r\n");
        return;
    }
    const char *v = arg_is(c, 2, "save") ? "" : arg_is(c, 2, "appendonly") ? "no" : NULL;
    if (!v) {
        put_str(&c->out, "*0\r\n");
        return;
    }
    put_str(&c->out, "*2\r\n");
    put_bulk(&c->out, c->argv[2], c->len[2]);
    put_bulk(&c->out, v, strlen(v));
}

/* Answer the command in c->argv: 1 to go on, 0 after QUIT, or an error. */
static int run_command(conn_t *c) {
    static const struct { const char *name; int min, max; } arity[] = {
        {"GET", 2, 2}, {"SET", 3, 3}, {"INCR", 2, 2}, {"DEL", 2, MAX_ARGS},
        {"EXISTS", 2, MAX_ARGS}, {"PING", 1, 2}, {"ECHO", 2, 2}, {"DBSIZE", 1, 1},
        {"QUIT", 1, 1}, {"CONFIG", 2, MAX_ARGS}, {"COMMAND", 1, MAX_ARGS},
        {"CLIENT", 1, MAX_ARGS}, {"SELECT", 2, 2}};
    size_t i = 0;
    while (i < sizeof arity / sizeof arity[0] && !arg_is(c, 0, arity[i].name)) i++;
    if (i == sizeof arity / sizeof arity[0]) { /* HELLO too: RESP2 only */
        put_str(&c->out, "-ERR unknown command '");
        put_bytes(&c->out, c->argv[0], c->len[0] > 64 ? 64 : c->len[0]);
        put_str(&c->out, "'\r\n");
        return 1;
    }
    if (c->argc < arity[i].min || c->argc > arity[i].max) {
        put_str(&c->out, "-ERR wrong number of arguments for '");
        put_str(&c->out, arity[i].name);
        put_str(&c->out, "' command\r\n");
        return 1;
    }
    const char *name = arity[i].name;
    if (i < 5 || !strcmp(name, "DBSIZE")) { /* the keyspace's */
        int rc = i < 3 ? key_command(c) : i < 5 ? keys_command(c) : dbsize(c);
        return rc ? rc : 1;
    }
    if (!strcmp(name, "PING"))
        c->argc == 1 ? put_str(&c->out, "+PONG\r\n") : put_bulk(&c->out, c->argv[1], c->len[1]);
    else if (!strcmp(name, "ECHO")) put_bulk(&c->out, c->argv[1], c->len[1]);
    else if (!strcmp(name, "CONFIG")) config(c);
    else if (!strcmp(name, "COMMAND")) put_str(&c->out, "*0\r\n"); /* no command table */
    else if (!strcmp(name, "SELECT") && !arg_is(c, 1, "0"))
        put_str(&c->out, "-ERR DB index is out of range\r\n");
    else put_str(&c->out, "+OK\r\n"); /* QUIT, CLIENT ..., SELECT 0 */
    return strcmp(name, "QUIT") != 0;
}

/* ------------------------------------------------------------ reading requests */

/* Room for n more bytes of arguments (pointers into data move with it). */
static int reserve(conn_t *c, size_t used, size_t n) {
    if (used + n <= c->data_cap) return 0;
    size_t cap = c->data_cap * 2 > used + n ? c->data_cap * 2 : used + n;
    char *d = realloc(c->data, cap);
    if (!d) return WEFT_ENOMEM;
    for (int i = 0; i < c->argc; i++) c->argv[i] = d + (c->argv[i] - c->data);
    c->data = d;
    c->data_cap = cap;
    return 0;
}

/* A "<prefix><number>" line (n bytes): 0 and *v in 0 .. max, or -EPROTO. */
static int parse_count(const char *line, int n, char prefix, long max, long *v) {
    char *end = NULL;
    *v = n >= 2 && line[0] == prefix ? strtol(line + 1, &end, 10) : -1;
    return *v >= 0 && *v <= max && end == line + n ? 0 : -EPROTO;
}

/* [checkpoint] The next request into c: a RESP array of bulk strings, or
 * an inline command (one line of words: redis-benchmark's PING_INLINE, a
 * person at nc).  argc is 0 for an empty line. */
static int read_request(weft_stream_t *s, conn_t *c) {
    int n = weft_stream_receive_until(s, c->data, c->data_cap - 1, "\r\n", 2);
    if (n < 0) return n;
    c->data[n] = '\0';
    c->argc = 0;
    if (c->data[0] != '*') {
        for (char *save, *w = strtok_r(c->data, " \t", &save); w && c->argc < MAX_ARGS;
             w = strtok_r(NULL, " \t", &save)) {
            c->argv[c->argc] = w;
            c->len[c->argc++] = strlen(w);
        }
        return 0;
    }
    long count, len;
    int rc = parse_count(c->data, n, '*', MAX_ARGS, &count);
    size_t used = 0;
    for (; rc == 0 && c->argc < count; c->argc++) {
        char line[32];
        if ((n = weft_stream_receive_until(s, line, sizeof line - 1, "\r\n", 2)) < 0) return n;
        line[n] = '\0'; /* for strtol */
        if ((rc = parse_count(line, n, '$', MAX_ARG_LEN, &len)) != 0) break;
        if ((rc = reserve(c, used, (size_t)len + 2)) != 0) break;
        rc = weft_stream_receive_exactly(s, c->data + used, (size_t)len + 2); /* with its CRLF */
        if (rc < 0) break;
        rc = memcmp(c->data + used + len, "\r\n", 2) == 0 ? 0 : -EPROTO;
        c->data[used + len] = '\0';
        c->argv[c->argc] = c->data + used;
        c->len[c->argc] = (size_t)len;
        used += (size_t)len + 1;
    }
    return rc;
}

/* ------------------------------------------------------------ connections */

static atomic_llong commands, connections;

static int conn_open(void *arg, void **out) {
    (void)arg;
    conn_t *c = calloc(1, sizeof *c);
    if (!c || !(c->data = malloc(c->data_cap = 4096))) {
        free(c);
        return WEFT_ENOMEM;
    }
    *out = c;
    return 0;
}

static void conn_close(void *p, void *arg) {
    conn_t *c = p;
    (void)arg;
    free(c->data);
    free(c->out.p);
    free(c);
}

static int kv_connection(weft_stream_t *s, void *p) {
    conn_t *c = p;
    atomic_fetch_add(&connections, 1);
    /* Answers go out one send each: without this, Nagle's algorithm holds
     * the second of a pipelined batch until the client's delayed ACK. */
    weft_stream_set_nodelay(s, 1);
    int rc, more = 1;
    while (more && (rc = read_request(s, c)) == 0) {
        if (c->argc == 0) continue;
        c->out.len = 0;
        if ((more = run_command(c)) < 0) {
            rc = more;
            break;
        }
        atomic_fetch_add(&commands, 1);
        /* One send per answer: pipelined commands are already in the
         * stream's buffer, and the client may be waiting for this one. */
        rc = c->out.failed ? WEFT_ENOMEM : weft_stream_send(s, c->out.p, c->out.len);
        if (rc) break;
    }
    if (rc == -EPROTO || rc == -EMSGSIZE) {
        static const char err[] = "-ERR Protocol error\r\n";
        rc = weft_stream_send(s, err, sizeof err - 1);
    }
    /* A client that went away, QUIT, or the shutdown: how connections end. */
    return rc == WEFT_EOF || rc == WEFT_ECANCELED || rc == -ECONNRESET || rc == WEFT_EPIPE ? 0 : rc;
}

/* ------------------------------------------------------------ snapshots */

static struct options {
    int port;
    unsigned workers;
    const char *snapshot;
    double every;
} opt = {.workers = 2, .every = 1};

static atomic_int snapshots_written;

/* Copy every key into b, one shard at a time under its lock (a checkpoint
 * only while a command holds that lock, for a moment). */
static int copy_keyspace(buf_t *b) {
    for (int i = 0; i < SHARDS; i++) {
        int rc = weft_lock_acquire(shards[i].lock);
        if (rc) return rc;
        for (size_t k = 0; k < shards[i].n_buckets; k++)
            for (entry_t *e = shards[i].buckets[k]; e; e = e->next) {
                put_str(b, "*3\r\n$3\r\nSET\r\n");
                put_bulk(b, e->key, e->key_len);
                put_bulk(b, e->value, e->value_len);
            }
        weft_lock_release(shards[i].lock);
    }
    return 0;
}

/* On a blocking thread: write the copy to PATH.tmp, then rename it over PATH
 * (a reader never sees half a snapshot).  0 or -errno. */
static int write_snapshot(void *arg) {
    const buf_t *b = arg;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", opt.snapshot);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -errno;
    int ok = b->len == 0 || fwrite(b->p, 1, b->len, f) == b->len; /* an empty keyspace: no buffer */
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, opt.snapshot) != 0) {
        int e = errno ? errno : EIO;
        remove(tmp);
        return -e;
    }
    return 0;
}

/* [checkpoint] One snapshot.  The write is not abandoned when cancelled:
 * the buffer it reads must outlive it. */
static int snapshot_once(void) {
    buf_t b = {0};
    int rc = copy_keyspace(&b);
    if (rc == 0) rc = b.failed ? WEFT_ENOMEM : weft_to_thread_run_sync(write_snapshot, &b, NULL);
    free(b.p);
    if (rc == 0) atomic_fetch_add(&snapshots_written, 1);
    else if (rc != WEFT_ECANCELED)
        fprintf(stderr, "kv_server: snapshot to %s failed: %s\n", opt.snapshot, weft_strerror(rc));
    return rc;
}

static int snapshot_loop(void *arg) {
    (void)arg;
    while (weft_sleep(opt.every) == 0) snapshot_once();
    return 0;
}

/* ------------------------------------------------------------ the server */

static int run_server(void *arg) {
    weft_serve_opts_t o;
    weft_serve_opts_init(&o);
    o.conn_open = conn_open;
    o.conn_close = conn_close;
    return weft_serve_ex(arg, kv_connection, NULL, &o);
}

static int kv_server(void *arg) {
    (void)arg;
    int signums[] = {SIGINT, SIGTERM};
    weft_signal_receiver_t *signals;
    weft_listener_t *l;
    int rc = weft_signal_open(&signals, signums, 2);
    if (rc) return rc;
    weft_listen_opts_t lo = {.backlog = 1024};
    if ((rc = keyspace_open()) != 0 ||
        (rc = weft_tcp_listen(&l, "127.0.0.1", opt.port, &lo)) != 0) {
        weft_signal_close(signals);
        keyspace_free();
        return rc;
    }
    printf("kv_server: listening on 127.0.0.1:%d, %u workers, %d shards, snapshot %s every "
           "%.1f s; SIGINT or SIGTERM stops it\n", weft_listener_port(l), opt.workers, SHARDS,
           opt.snapshot ? opt.snapshot : "(none)", opt.every);

    weft_group_t g;
    weft_group_open(&g);
    weft_group_spawn(&g, run_server, l);
    if (opt.snapshot) weft_group_spawn(&g, snapshot_loop, NULL);
    int signum = weft_signal_receive(signals); /* WEFT_ECANCELED if the server failed */
    if (signum > 0) {
        printf("kv_server: %s received, stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
        weft_group_cancel(&g);
    }
    rc = weft_group_close(&g, 0);
    if (rc == 0 && opt.snapshot) rc = snapshot_once(); /* the final state */
    weft_listener_close(l);
    weft_signal_close(signals);
    if (rc == 0)
        printf("kv_server: shut down gracefully: %lld command(s) on %lld connection(s), "
               "%d snapshot(s) written\n", (long long)atomic_load(&commands),
               (long long)atomic_load(&connections), atomic_load(&snapshots_written));
    keyspace_free();
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(f, "--port") == 0) opt.port = atoi(v);
        else if (v && strcmp(f, "--workers") == 0) opt.workers = (unsigned)atoi(v);
        else if (v && strcmp(f, "--snapshot") == 0) opt.snapshot = v;
        else if (v && strcmp(f, "--snapshot-every") == 0) opt.every = atof(v);
        else {
            fprintf(stderr, "usage: %s [--port N] [--workers N] [--snapshot PATH] "
                            "[--snapshot-every SECONDS]\n", argv[0]);
            return 2;
        }
        i++;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line at a time, also into a pipe */
    weft_config_t config;
    weft_config_init(&config);
    config.workers = opt.workers;
    int rc = weft_run(kv_server, NULL, &config);
    if (rc != 0) fprintf(stderr, "kv_server failed: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
