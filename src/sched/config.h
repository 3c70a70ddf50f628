/*
 * The rules of weft_config_t (weft.h): copying a caller's struct of any
 * layout version, refusing what cannot be honoured, filling in defaults.
 * Used wherever a config enters the library: weft_run, portals, the test
 * runner.
 */
#ifndef WEFT_SCHED_CONFIG_H
#define WEFT_SCHED_CONFIG_H

#include "weft.h"

/* `in` (NULL: defaults) as this library's struct: only the bytes the
 * caller's header had (config_size), the rest zero; WEFT_EINVAL for a size
 * this library cannot honour. */
int wf_config_copy(weft_config_t *out, const weft_config_t *in);
/* 0, or WEFT_EINVAL for a config weft cannot honour (weft.h says which). */
int wf_config_check(const weft_config_t *c);
/* The config with every zero replaced by its default. */
weft_config_t wf_config_resolve(const weft_config_t *c);

#endif
