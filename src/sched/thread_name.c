#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np, pthread_getname_np */
#endif
#include "sched/thread_name.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

void wf_thread_name_copy(char out[WF_THREAD_NAME_SIZE], const char *name) {
    size_t n = strnlen(name, WF_THREAD_NAME_SIZE - 1);
    memcpy(out, name, n);
    out[n] = '\0';
}

/* Linux refuses (ERANGE) a name past its limit rather than cutting it, so
 * every name is cut here first. */
void wf_thread_name_set(const char *name) {
    char cut[WF_THREAD_NAME_SIZE];
    wf_thread_name_copy(cut, name);
#if defined(__APPLE__)
    pthread_setname_np(cut);
#elif defined(__linux__)
    pthread_setname_np(pthread_self(), cut);
#endif
}

void wf_thread_name_set_numbered(const char *prefix, unsigned n) {
    char digits[16], name[WF_THREAD_NAME_SIZE];
    size_t nd = (size_t)snprintf(digits, sizeof digits, "-%u", n); /* at most 11 bytes */
    size_t np = strnlen(prefix, sizeof name - 1 - nd);
    memcpy(name, prefix, np);
    memcpy(name + np, digits, nd + 1);
    wf_thread_name_set(name);
}

void wf_thread_name_get(char out[WF_THREAD_NAME_SIZE]) {
    out[0] = '\0';
#if defined(__APPLE__) || defined(__linux__)
    if (pthread_getname_np(pthread_self(), out, WF_THREAD_NAME_SIZE) != 0) out[0] = '\0';
#endif
}
