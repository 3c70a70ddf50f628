/* weft_version / weft_version_string: the library's version at run time,
 * which may differ from the header a program was compiled with; and the
 * mark of a sanitizer build that programs built for it reference (weft.h,
 * "builds"). */
#if defined(WEFT_LINK_TSAN)
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include "weft.h"

#if defined(WEFT_LINK_TSAN)
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
#endif

#define WF_STR_(x) #x
#define WF_STR(x) WF_STR_(x)

unsigned weft_version(void) { return WEFT_VERSION_HEX; }

const char *weft_version_string(void) {
    return WF_STR(WEFT_VERSION_MAJOR) "." WF_STR(WEFT_VERSION_MINOR) "." WF_STR(WEFT_VERSION_PATCH);
}

#if defined(WEFT_LINK_TSAN)
const char weft_built_with_tsan = 1;

/* A program linked to libweft-tsan by hand, without -fsanitize=thread and
 * without weft.h's check (no WEFT_LINK_TSAN), loads the TSan runtime after
 * libc: its interceptors are not the functions called, and the first worker
 * thread dies inside TSan with a bare SIGSEGV.  Say why instead, and stop,
 * as ASan does when its runtime does not come first. */
__attribute__((constructor)) static void wf_tsan_check_program(void) {
    void *called = dlsym(RTLD_DEFAULT, "pthread_create");
    void *interceptor = dlsym(RTLD_DEFAULT, "__interceptor_pthread_create");
    if (interceptor && called != interceptor) {
        static const char msg[] =
            "weft-tsan: this program is not linked with -fsanitize=thread (TSan's runtime does "
            "not come first): build it with pkg-config --cflags --libs weft-tsan, or link weft\n";
        fputs(msg, stderr);
        _exit(1);
    }
}
#elif defined(WEFT_LINK_ASAN)
const char weft_built_with_asan = 1;
#endif
