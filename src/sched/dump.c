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
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sched/group.h"
#include "sched/registry.h"
#include "sched/vclock.h"

typedef struct dump {
    FILE *mem;
    wf_runtime_t *rt;
    double now;
} dump_t;

/* Deeper than this, a line names its depth instead of indenting further:
 * a chain of 100,000 nested groups would otherwise print gigabytes of
 * spaces. */
#define MAX_INDENT 32u

static void indent(dump_t *d, unsigned depth) {
    if (depth <= MAX_INDENT) fprintf(d->mem, "%*s", (int)(2 * depth), "");
    else fprintf(d->mem, "%*s[depth %u] ", (int)(2 * MAX_INDENT), "", depth);
}

static int running_on(const wf_runtime_t *rt, const wf_task_t *t) {
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (atomic_load_explicit(&rt->workers[i].running, memory_order_relaxed) == t) return (int)i;
    return -1;
}

static void print_task(dump_t *d, wf_task_t *t, unsigned depth) {
    indent(d, depth);
    fprintf(d->mem, "task '%s': ", t->name);
    /* wait_kind and wait_since are the task's own once its wait is over:
     * read them only while it is armed (task.c). */
    wf_spin_lock(&t->wlock);
    int armed = t->armed;
    enum wf_wait_kind kind = armed ? t->wait_kind : WF_WAIT_NONE;
    double since = armed ? t->wait_since : 0;
    wf_spin_unlock(&t->wlock);
    int worker = running_on(d->rt, t);
    if (armed && worker < 0)
        fprintf(d->mem, "waiting on %s for %.3f s\n", wf_wait_kind_name(kind), d->now - since);
    else if (worker >= 0)
        fprintf(d->mem, "running on worker %d\n", worker);
    else
        fprintf(d->mem, "runnable\n");
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

static void dump_runtime(wf_runtime_t *rt, void *arg) {
    dump_t *d = arg;
    d->rt = rt;
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
    if (!rt->root_gone && rt->root) walk(d, &rt->root->root, 1);
    pthread_mutex_unlock(&rt->root_lock);
    wf_spin_lock(&rt->detached_scope.lock);
    int detached = !wf_list_empty(&rt->detached_scope.children);
    wf_spin_unlock(&rt->detached_scope.lock);
    if (detached) {
        fprintf(d->mem, "  tasks started from other threads:\n");
        walk(d, &rt->detached_scope, 1);
    }
}

void weft_dump_tasks(FILE *out) {
    if (!out) return;
    char *text = NULL;
    size_t len = 0;
    dump_t d = {.mem = open_memstream(&text, &len)};
    if (!d.mem) {
        fprintf(out, "weft: no memory to dump the task tree\n");
        return;
    }
    wf_registry_each(dump_runtime, &d);
    fclose(d.mem);
    fwrite(text, 1, len, out);
    fflush(out);
    free(text); /* open_memstream's, not ours */
}
