#include "clock.h"

#include <time.h>

#include "weft.h"

double wf_clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double weft_now(void) { return wf_clock_now(); }
