/* weft_version / weft_version_string: the library's version at run time,
 * which may differ from the header a program was compiled with; and the
 * mark of a sanitizer build that programs built for it reference (weft.h,
 * "builds"). */
#include "weft.h"

#if defined(WEFT_LINK_TSAN)
const char weft_built_with_tsan = 1;
#elif defined(WEFT_LINK_ASAN)
const char weft_built_with_asan = 1;
#endif

#define WF_STR_(x) #x
#define WF_STR(x) WF_STR_(x)

unsigned weft_version(void) { return WEFT_VERSION_HEX; }

const char *weft_version_string(void) {
    return WF_STR(WEFT_VERSION_MAJOR) "." WF_STR(WEFT_VERSION_MINOR) "." WF_STR(WEFT_VERSION_PATCH);
}
