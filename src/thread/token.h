/*
 * Tokens: references to a runtime that other threads hold (Trio's
 * TrioToken).  The runtime holds one reference for its lifetime and cuts
 * the link when it is freed, so a token outliving its runtime answers
 * WEFT_EBADF instead of touching freed memory.
 */
#ifndef WEFT_THREAD_TOKEN_H
#define WEFT_THREAD_TOKEN_H

#include "sched/runtime.h"

weft_token_t *wf_token_new(wf_runtime_t *rt);
/* The runtime is going away: later entries fail; drops the runtime's reference. */
void wf_token_detach(weft_token_t *t);
/* Enter the token's runtime (wf_runtime_enter): 0 and *rt, or WEFT_EBADF
 * once main returned.  Callers that then wait check they are not a worker. */
int wf_token_enter(weft_token_t *t, wf_runtime_t **rt);
/* Another reference to t, counted as held while its runtime lives. */
weft_token_t *wf_token_share(weft_token_t *t);

#endif
