/*
 * start_service — weft_group_start: start a service and wait until it is ready.
 *
 * A "greeter" service listens on an ephemeral port of 127.0.0.1 and serves
 * each connection in its own task.  weft_group_spawn would return at once,
 * before the socket exists, and a client connecting then would race the
 * listener.  weft_group_start returns only once the task called
 * weft_started(value), here with the port it got, so the clients that follow
 * can connect at once.
 *
 * A second greeter asked for the same port fails before weft_started:
 * weft_group_start returns its error (EADDRINUSE) and, unlike a failure
 * after start-up, the group is not cancelled: the first greeter serves on.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define CLIENTS 3

struct greeter {
    int port; /* 0: any free port */
    atomic_int served;
};

/* One connection: read a name (until the client's EOF), answer "hello, <name>". */
static int greet(weft_stream_t *s, void *arg) {
    struct greeter *gr = arg;
    char name[64], reply[128];
    size_t used = 0;
    int n = 0;
    while (used < sizeof name - 1 && (n = weft_stream_receive(s, name + used, sizeof name - 1 - used)) > 0)
        used += (size_t)n;
    if (used < sizeof name - 1 && n != WEFT_EOF) return n;
    name[used] = '\0';
    int len = snprintf(reply, sizeof reply, "hello, %s (from the greeter on port %d)", name, gr->port);
    atomic_fetch_add(&gr->served, 1);
    return weft_stream_send(s, reply, (size_t)len);
}

/* The service: ready once it listens; then serves until cancelled. */
static int greeter_service(void *arg) {
    struct greeter *gr = arg;
    weft_listener_t *l;
    int rc = weft_tcp_listen(&l, "127.0.0.1", gr->port, NULL);
    if (rc != 0) return rc; /* before weft_started: weft_group_start returns rc */
    gr->port = weft_listener_port(l);
    weft_started((void *)(intptr_t)gr->port);
    rc = weft_serve(l, greet, gr);
    weft_listener_close(l);
    return rc;
}

struct client {
    int port;
    char name[16];
    char reply[128];
    int rc;
};

static int run_client(void *arg) {
    struct client *c = arg;
    weft_stream_t *s;
    c->rc = weft_tcp_connect(&s, "127.0.0.1", c->port);
    if (c->rc != 0) return c->rc;
    c->rc = weft_stream_send(s, c->name, strlen(c->name));
    if (c->rc == 0) c->rc = weft_stream_send_eof(s); /* the name is complete */
    size_t used = 0;
    int n = 0;
    while (c->rc == 0 && (n = weft_stream_receive(s, c->reply + used, sizeof c->reply - 1 - used)) > 0)
        used += (size_t)n;
    c->reply[used] = '\0';
    if (c->rc == 0 && n != WEFT_EOF) c->rc = n;
    weft_stream_close(s);
    return c->rc;
}

/* CLIENTS clients at once, in their own group; their replies in order. */
static int run_clients(int port) {
    struct client clients[CLIENTS];
    weft_group_t g;
    weft_group_open(&g);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){.port = port};
        snprintf(clients[i].name, sizeof clients[i].name, "client %d", i + 1);
        weft_group_spawn(&g, run_client, &clients[i]);
    }
    int rc = weft_group_close(&g, 0);
    for (int i = 0; i < CLIENTS; i++)
        printf("  %s got: \"%s\" (%s)\n", clients[i].name, clients[i].reply, weft_err_name(clients[i].rc));
    return rc;
}

static int start_service(void *arg) {
    (void)arg;
    struct greeter first = {.port = 0};
    weft_group_t services;
    weft_group_open(&services);

    void *ready;
    int rc = weft_group_start(&services, greeter_service, &first, &ready);
    if (rc == 0) {
        printf("weft_group_start returned: the greeter is listening on 127.0.0.1:%d\n",
               (int)(intptr_t)ready);
        rc = run_clients((int)(intptr_t)ready);
    }
    if (rc == 0) {
        struct greeter second = {.port = first.port};
        int second_rc = weft_group_start(&services, greeter_service, &second, &ready);
        printf("a second greeter on the same port: weft_group_start returned %s\n",
               weft_err_name(second_rc));
        printf("the group was not cancelled by it: the first greeter still answers\n");
        rc = second_rc == -EADDRINUSE ? run_clients(first.port) : -1;
    }

    weft_group_cancel(&services); /* stop the greeter: weft_serve returns WEFT_ECANCELED */
    int close_rc = weft_group_close(&services, rc);
    printf("services stopped: %d connection(s) served, group closed with %s\n",
           atomic_load(&first.served), weft_err_name(close_rc));
    return close_rc;
}

int main(void) {
    weft_config_t config = {.workers = 2};
    int rc = weft_run(start_service, NULL, &config);
    printf(rc == 0 ? "start_service: done\n" : "start_service failed: %s\n", weft_strerror(rc));
    return rc == 0 ? 0 : 1;
}
