/* weft_version / weft_version_string: the library's version at run time,
 * which may differ from the header a program was compiled with. */
#include "weft.h"

#define WF_STR_(x) #x
#define WF_STR(x) WF_STR_(x)

unsigned weft_version(void) { return WEFT_VERSION_HEX; }

const char *weft_version_string(void) {
    return WF_STR(WEFT_VERSION_MAJOR) "." WF_STR(WEFT_VERSION_MINOR) "." WF_STR(WEFT_VERSION_PATCH);
}
