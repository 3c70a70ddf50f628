/*
 * request_id — a request id that follows the work, into a log line written
 * on a blocking thread.
 *
 * Each request is a task that sets its id as a task-local value
 * (weft/local.h) and calls code that knows nothing about requests: a helper
 * task it spawns, and a blocking "database" call run through
 * weft_to_thread_run_sync.  The logger reads the id with weft_local_get
 * wherever it runs — in the request's task, in the helper (which inherited
 * it at the spawn), on the blocking thread (whose fn sees the caller's
 * values), and in a call back into the runtime from there — so no function
 * signature has to carry it.  The ids are heap strings freed by the key's
 * destroy (free) once the request and everything it started have ended.
 *
 * usage: request_id [REQUESTS]   (default 4)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

static weft_local_t *request_key;  /* the current request's id (a heap string) */
static atomic_int lines, wrong_lines; /* log lines written, those with another request's id */

/* The logger: any code, any thread weft runs it on.  `expect` is what the
 * caller knows its id should be (NULL: none), so the example can prove it. */
static void log_line(const char *expect, const char *where, const char *what) {
    const char *id = weft_local_get(request_key);
    printf("[%s] %-9s %s\n", id ? id : "no request", where, what);
    atomic_fetch_add(&lines, 1);
    if (expect ? !id || strcmp(id, expect) != 0 : id != NULL) atomic_fetch_add(&wrong_lines, 1);
}

/* ---------------------------------------------------------------- blocking code */

static int audit_in_runtime(void *arg) {
    log_line(arg, "audit", "recorded on a worker, called from the blocking thread");
    return 0;
}

/* Blocking code, unaware of requests: it only logs. */
static int query_database(void *arg) {
    usleep(2000); /* the blocking call */
    log_line(arg, "database", "query done on a blocking thread");
    return weft_from_thread_run_sync(audit_in_runtime, arg);
}

/* ---------------------------------------------------------------- tasks */

static int fetch_profile(void *arg) {
    weft_sleep(0.001);
    log_line(arg, "helper", "profile fetched by a task the handler spawned");
    return 0;
}

static int handle_request(void *arg) {
    int n = (int)(long)arg;
    char *id = malloc(16);
    if (!id) return WEFT_ENOMEM;
    snprintf(id, 16, "req-%d", n);
    int rc = weft_local_set(request_key, id); /* destroy (free) takes it over */
    if (rc) {
        free(id);
        return rc;
    }
    log_line(id, "handler", "request started");
    weft_group_t g;
    if ((rc = weft_group_open(&g)) != 0) return rc;
    int sp = weft_group_spawn(&g, fetch_profile, id);
    int db = weft_to_thread_run_sync(query_database, id, NULL);
    rc = weft_group_close(&g, sp);
    if (rc == 0) rc = db;
    log_line(id, "handler", rc == 0 ? "request done" : "request failed");
    return rc;
}

static int serve(void *arg) {
    int requests = *(int *)arg;
    log_line(NULL, "main", "before any request"); /* main starts with no values */
    weft_group_t g;
    int rc = weft_group_open(&g);
    if (rc) return rc;
    for (long i = 1; i <= requests && rc == 0; i++) rc = weft_group_spawn(&g, handle_request, (void *)i);
    return weft_group_close(&g, rc);
}

int main(int argc, char **argv) {
    int requests = argc > 1 ? atoi(argv[1]) : 4;
    if (requests < 1 || requests > 1000) {
        fprintf(stderr, "usage: request_id [REQUESTS (1-1000)]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = weft_local_new(&request_key, free);
    if (rc == 0) rc = weft_run(serve, &requests, NULL);
    weft_local_free(request_key);
    int wrong = atomic_load(&wrong_lines);
    printf("request_id: %d requests, %d log lines, %d with a wrong request id: %s\n", requests,
           atomic_load(&lines), wrong, rc == 0 && wrong == 0 ? "OK" : "FAILED");
    if (rc) fprintf(stderr, "request_id: %s\n", weft_strerror(rc));
    return rc == 0 && wrong == 0 ? 0 : 1;
}
