/*
 * weft_dump_tasks: the live tree of every runtime, from any thread.
 *
 * The tree is the cancel-scope tree (scope.h): a task's root scope hangs
 * under the scope it was spawned into, its cancel scopes and groups under
 * its innermost scope.  The walk takes the scope locks parent before child,
 * as the cancellation walk does, so every scope it reaches stays alive and
 * linked while it looks; a task's wait state is read under the task's own
 * lock.  It writes into memory while it holds those spinlocks and copies to
 * `out` only after, so a slow or blocked reader of `out` never stalls a
 * worker.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/dump.h"
#include "sched/group.h"
#include "sched/registry.h"
#include "sched/vclock.h"

/* A task seen by the walk, for the lines about who waits for whom: the walk
 * holds the locks that keep it (and its name) alive, the lines come after. */
typedef struct seen_task {
    const wf_task_t *task;
    char name[48];
    enum wf_wait_kind kind;  /* while armed */
    const void *obj;
    const void *holder;      /* the object's sole holder, if any (task.h) */
    unsigned held;           /* how many hold it */
} seen_task_t;

typedef struct dump {
    FILE *mem;
    FILE *cycles;            /* the deadlock cycles (mem, or a stream of their own) */
    wf_runtime_t *rt;
    double now;
    seen_task_t *seen;       /* this runtime's tasks; NULL: out of memory, no lines */
    size_t n_seen, cap_seen;
} dump_t;

/* Deeper than this, a line names its depth instead of indenting further:
 * a chain of 100,000 nested groups would otherwise print gigabytes of
 * spaces. */
#define MAX_INDENT 32u

static void indent(dump_t *d, unsigned depth) {
    if (depth <= MAX_INDENT) fprintf(d->mem, "%*s", (int)(2 * depth), "");
    else fprintf(d->mem, "%*s[depth %u] ", (int)(2 * MAX_INDENT), "", depth);
}

/* A waiting task's stack, innermost frame first. */
#define MAX_FRAMES 24

/* "at name+0x1c (module)": the symbol when the module exports it (programs
 * linked with -rdynamic do), else the module and the offset in it, which
 * addr2line -e <module> turns into a line. */
static void print_frames(dump_t *d, void *const *pcs, int n, unsigned depth) {
    /* The frames inside weft come first; from the innermost public call
     * (weft_sleep, weft_lock_acquire, ...) on, they are the program's. */
    int from = 0;
    for (int i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr((const char *)pcs[i] - 1, &info) && info.dli_sname &&
            strncmp(info.dli_sname, "weft_", 5) == 0) {
            from = i;
            break;
        }
    }
    for (int i = from; i < n; i++) {
        Dl_info info;
        indent(d, depth);
        /* A return address: the call is the byte before it. */
        const char *pc = (const char *)pcs[i] - 1;
        if (!dladdr(pc, &info) || !info.dli_fname) {
            fprintf(d->mem, "at %p\n", pcs[i]);
            continue;
        }
        const char *module = strrchr(info.dli_fname, '/');
        module = module ? module + 1 : info.dli_fname;
        if (info.dli_sname)
            fprintf(d->mem, "at %s+%#tx (%s)\n", info.dli_sname, pc + 1 - (const char *)info.dli_saddr,
                    module);
        else
            fprintf(d->mem, "at %s+%#tx\n", module, pc + 1 - (const char *)info.dli_fbase);
    }
}

static int running_on(const wf_runtime_t *rt, const wf_task_t *t) {
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (atomic_load_explicit(&rt->workers[i].running, memory_order_relaxed) == t) return (int)i;
    return -1;
}

static seen_task_t *remember(dump_t *d, const wf_task_t *t) {
    if (d->n_seen == d->cap_seen) {
        size_t cap = d->cap_seen ? 2 * d->cap_seen : 64;
        seen_task_t *grown = realloc(d->seen, cap * sizeof *grown); /* not wf_alloc: no faults here */
        if (!grown) return NULL;
        d->seen = grown;
        d->cap_seen = cap;
    }
    seen_task_t *e = &d->seen[d->n_seen++];
    *e = (seen_task_t){.task = t};
    snprintf(e->name, sizeof e->name, "%s", t->name);
    return e;
}

static void print_task(dump_t *d, wf_task_t *t, unsigned depth) {
    indent(d, depth);
    fprintf(d->mem, "task '%s': ", t->name);
    seen_task_t *e = remember(d, t);
    /* wait_kind and wait_since are the task's own once its wait is over:
     * read them only while it is armed (task.c), when the object waited on is
     * alive too. */
    wf_spin_lock(&t->wlock);
    int armed = t->armed;
    enum wf_wait_kind kind = armed ? t->wait_kind : WF_WAIT_NONE;
    double since = armed ? t->wait_since : 0;
    if (e && (kind == WF_WAIT_LOCK || kind == WF_WAIT_LIMITER)) {
        const wf_holders_t *h = t->wait_obj;
        e->kind = kind;
        e->obj = t->wait_obj;
        e->held = atomic_load_explicit(&h->count, memory_order_relaxed);
        e->holder = atomic_load_explicit(&h->one, memory_order_relaxed);
    }
    /* Off its stack until a claim, which needs this lock: the stack holds
     * still while we read where it stopped. */
    void *pcs[MAX_FRAMES];
    int frames = armed && atomic_load(&t->park) == WF_PARKED
                     ? wf_fiber_frames(&t->fiber, pcs, MAX_FRAMES)
                     : 0;
    wf_spin_unlock(&t->wlock);
    int worker = running_on(d->rt, t);
    if (armed && worker < 0)
        fprintf(d->mem, "waiting on %s for %.3f s\n", wf_wait_kind_name(kind), d->now - since);
    else if (worker >= 0)
        fprintf(d->mem, "running on worker %d\n", worker);
    else
        fprintf(d->mem, "runnable\n");
    print_frames(d, pcs, frames, depth + 1);
}

static void print_scope(dump_t *d, const wf_scope_t *s, unsigned depth) {
    indent(d, depth);
    fprintf(d->mem, "cancel scope:");
    double deadline = atomic_load_explicit(&s->deadline, memory_order_relaxed);
    if (!isinf(deadline)) {
        if (deadline > d->now) fprintf(d->mem, " deadline in %.3f s", deadline - d->now);
        else fprintf(d->mem, " deadline passed");
    }
    if (wf_scope_flags(s) & WF_SCOPE_FAIL_AFTER) fprintf(d->mem, " (fail_after)");
    if (atomic_load_explicit(&s->shield, memory_order_relaxed)) fprintf(d->mem, " shielded");
    if (atomic_load_explicit(&s->cancel_called, memory_order_relaxed)) fprintf(d->mem, " cancelled");
    fprintf(d->mem, "\n");
}

static int is_task_root(const wf_scope_t *s) { return s->owner && s == &s->owner->root; }

/* One line for `s` (locked), `depth` levels in. */
static void print_node(dump_t *d, const wf_scope_t *s, unsigned depth) {
    if (is_task_root(s)) print_task(d, s->owner, depth);
    else if (wf_scope_flags(s) & WF_SCOPE_GROUP) {
        indent(d, depth);
        fprintf(d->mem, "group%s:\n",
                atomic_load_explicit(&s->cancel_called, memory_order_relaxed) ? " (cancelled)" : "");
    } else if (s->owner)
        print_scope(d, s, depth);
}

/* The tasks of a group (locked) that are not in the tree, as a count. */
static void print_unlinked(dump_t *d, const wf_scope_t *s, unsigned depth) {
    if (!(wf_scope_flags(s) & WF_SCOPE_GROUP)) return;
    size_t shown = 0;
    for (const wf_list_t *n = s->children.next; n != &s->children; n = n->next)
        shown += (size_t)is_task_root(WF_CONTAINER_OF(n, wf_scope_t, node));
    const wf_group_t *g = WF_CONTAINER_OF(s, wf_group_t, scope);
    unsigned long live = atomic_load(&g->live) / WF_GROUP_ONE;
    if (live > shown) {
        indent(d, depth + 1);
        fprintf(d->mem, "(%lu more: never blocked yet, runnable or running)\n", live - shown);
    }
}

typedef struct walk_ctx {
    dump_t *d;
    unsigned depth; /* of the walk's top */
} walk_ctx_t;

static int walk_enter(wf_scope_t *s, wf_scope_t *parent, unsigned depth, void *arg) {
    (void)parent;
    walk_ctx_t *w = arg;
    print_node(w->d, s, w->depth + depth);
    return 1;
}

static void walk_leave(wf_scope_t *s, unsigned depth, void *arg) {
    walk_ctx_t *w = arg;
    print_unlinked(w->d, s, w->depth + depth);
}

/* Print `top` and its subtree.  The walk takes the scope locks parent before
 * child, as the cancellation walk does (scope.h), without recursing. */
static void walk(dump_t *d, wf_scope_t *top, unsigned depth) {
    walk_ctx_t w = {d, depth};
    wf_spin_lock(&top->lock);
    print_node(d, top, depth);
    wf_scope_walk(top, walk_enter, walk_leave, &w);
    print_unlinked(d, top, depth);
    wf_spin_unlock(&top->lock);
}

static const seen_task_t *find_seen(const dump_t *d, const void *task) {
    for (size_t i = 0; task && i < d->n_seen; i++)
        if (d->seen[i].task == task) return &d->seen[i];
    return NULL;
}

/* "task 'A' waits for lock L held by task 'B'" for every such wait, then
 * every cycle of them: a deadlock among those tasks, whatever the others do.
 * Only waits whose object has one holder are followed. */
static void print_waits(dump_t *d) {
    int header = 0;
    for (size_t i = 0; i < d->n_seen; i++) {
        const seen_task_t *e = &d->seen[i];
        if (!e->obj) continue;
        if (!header++) fprintf(d->mem, "  waiting for what others hold:\n");
        const seen_task_t *h = find_seen(d, e->holder);
        fprintf(d->mem, "    task '%s' waits for %s %p ", e->name, wf_wait_kind_name(e->kind), e->obj);
        if (e->held != 1) fprintf(d->mem, "(%u holders)\n", e->held);
        else if (h) fprintf(d->mem, "held by task '%s'\n", h->name);
        else fprintf(d->mem, "held by %p (no task in the tree)\n", e->holder);
    }
    for (size_t i = 0; i < d->n_seen; i++) {
        /* Follow from task i; a cycle is reported from its first task only. */
        const seen_task_t *e = &d->seen[i], *at = e;
        size_t steps = 0, lowest = i;
        while (at && at->obj && at->held == 1 && steps <= d->n_seen) {
            at = find_seen(d, at->holder);
            steps++;
            if (at && (size_t)(at - d->seen) < lowest) lowest = (size_t)(at - d->seen);
            if (at == e) break;
        }
        if (steps == 0 || at != e || lowest != i) continue;
        fprintf(d->cycles, "  deadlock cycle: task '%s'", e->name);
        at = e;
        for (size_t k = 0; k < steps; k++) {
            const seen_task_t *next = find_seen(d, at->holder);
            fprintf(d->cycles, "%s waits for %s %p held by task '%s'", k ? ", which" : "",
                    wf_wait_kind_name(at->kind), at->obj, next->name);
            at = next;
        }
        fprintf(d->cycles, "\n");
    }
}

static void dump_runtime(wf_runtime_t *rt, void *arg) {
    dump_t *d = arg;
    d->rt = rt;
    d->n_seen = 0;
    d->now = wf_runtime_now(rt);
    fprintf(d->mem, "weft runtime %p: %u workers", (void *)rt, rt->nworkers);
    if (rt->vclock)
        fprintf(d->mem, ", virtual clock %.3f s ahead",
                atomic_load_explicit(&rt->clock_offset, memory_order_relaxed));
    fprintf(d->mem, "\n");
    for (unsigned i = 0; i < rt->nworkers; i++) {
        char name[64];
        fprintf(d->mem, "  worker %u: ", i);
        if (wf_worker_running_name(&rt->workers[i], name, sizeof name))
            fprintf(d->mem, "running '%s'\n", name);
        else fprintf(d->mem, "idle\n");
    }
    pthread_mutex_lock(&rt->root_lock);
    int lost = rt->tree_lost;
    if (!lost && !rt->root_gone && rt->root) walk(d, &rt->root->root, 1);
    pthread_mutex_unlock(&rt->root_lock);
    if (lost) return; /* given up after a deadlock: the scopes' stacks are going */
    wf_spin_lock(&rt->detached_scope.lock);
    int detached = !wf_list_empty(&rt->detached_scope.children);
    wf_spin_unlock(&rt->detached_scope.lock);
    if (detached) {
        fprintf(d->mem, "  tasks started from other threads:\n");
        walk(d, &rt->detached_scope, 1);
    }
    print_waits(d);
}

/* Everything into memory first, out in one write: a slow or blocked `out`
 * never stalls a worker holding the tree's locks. */
static void dump_into(FILE *out, void (*each)(dump_t *d, void *arg), void *arg) {
    char *text = NULL;
    size_t len = 0;
    dump_t d = {.mem = open_memstream(&text, &len)};
    d.cycles = d.mem;
    if (!d.mem) {
        fprintf(out, "weft: no memory to dump the task tree\n");
        return;
    }
    each(&d, arg);
    free(d.seen);
    fclose(d.mem);
    fwrite(text, 1, len, out);
    fflush(out);
    free(text); /* open_memstream's, not ours */
}

static void every_runtime(dump_t *d, void *arg) {
    (void)arg;
    wf_registry_each(dump_runtime, d);
}

static void one_runtime(dump_t *d, void *rt) { dump_runtime(rt, d); }

void weft_dump_tasks(FILE *out) {
    if (out) dump_into(out, every_runtime, NULL);
}

void wf_dump_runtime(wf_runtime_t *rt, FILE *out) { dump_into(out, one_runtime, rt); }

/* The cycles alone (the blocking detector's look, once in a while): the
 * tree goes nowhere.  1 if there is any; *text (malloc'd) says which. */
int wf_dump_cycles(wf_runtime_t *rt, char **text) {
    size_t len = 0;
    *text = NULL;
    dump_t d = {.mem = fopen("/dev/null", "w"), .cycles = open_memstream(text, &len)};
    if (d.mem && d.cycles) dump_runtime(rt, &d);
    if (d.mem) fclose(d.mem);
    if (d.cycles) fclose(d.cycles);
    free(d.seen);
    return len > 0;
}
