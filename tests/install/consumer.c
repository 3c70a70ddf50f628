/* A program that uses only the installed public header and library. */
#include <weft.h>

#include <stdio.h>
#include <string.h>

static int root(void *arg)
{
    int *ran = arg;
    *ran = 1;
    return 0;
}

int main(void)
{
    int ran = 0;
    double t0 = weft_now();
    int rc = weft_run(root, &ran, NULL);
    if (rc != 0 || !ran) {
        fprintf(stderr, "consumer: weft_run returned %d (%s), ran=%d\n", rc, weft_strerror(rc), ran);
        return 1;
    }
    if (!(weft_now() >= t0)) {
        fprintf(stderr, "consumer: weft_now went backwards\n");
        return 1;
    }
    const char *name = weft_err_name(WEFT_ECANCELED);
    if (name == NULL || strstr(name, "ECANCELED") == NULL) {
        fprintf(stderr, "consumer: weft_err_name(WEFT_ECANCELED) = %s\n", name ? name : "(null)");
        return 1;
    }
    /* The library it runs against is the one it was built for. */
    if (weft_version() != WEFT_VERSION_HEX) {
        fprintf(stderr, "consumer: built for %#x, runs against %#x\n", WEFT_VERSION_HEX, weft_version());
        return 1;
    }
    printf("consumer: weft %s ok\n", weft_version_string());
    return 0;
}
