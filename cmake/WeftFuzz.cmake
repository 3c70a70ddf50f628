# libFuzzer support (WEFT_BUILD_FUZZ=ON; clang only).
#
# The library, and everything else this build defines, is compiled with
# -fsanitize=fuzzer-no-link (coverage for libFuzzer) plus the address build's
# sanitizers (WEFT_SANITIZE_FLAGS_address: ASan + UBSan, LeakSanitizer with
# it); fuzz/ then links its harnesses with -fsanitize=fuzzer.  Include after
# WeftSanitizers and before the first target.
include_guard(GLOBAL)

option(WEFT_BUILD_FUZZ "Build the libFuzzer harnesses in fuzz/ (clang; ASan+UBSan)" OFF)

if(WEFT_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "WEFT_BUILD_FUZZ needs clang (configure with CC=clang); "
                        "the C compiler is ${CMAKE_C_COMPILER_ID}")
  endif()
  if(WEFT_SANITIZE)
    message(FATAL_ERROR "WEFT_BUILD_FUZZ brings its own sanitizers (address, undefined): "
                        "leave WEFT_SANITIZE empty")
  endif()
  set(WEFT_FUZZ_SAN_FLAGS ${WEFT_SANITIZE_FLAGS_address})
  include(CheckCSourceCompiles)
  list(JOIN WEFT_FUZZ_SAN_FLAGS " " CMAKE_REQUIRED_FLAGS)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=fuzzer ${WEFT_FUZZ_SAN_FLAGS})
  set(CMAKE_REQUIRED_QUIET ON)
  check_c_source_compiles([=[
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }
]=] WEFT_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  unset(CMAKE_REQUIRED_QUIET)
  if(NOT WEFT_HAVE_LIBFUZZER)
    message(FATAL_ERROR "WEFT_BUILD_FUZZ: ${CMAKE_C_COMPILER} cannot link with -fsanitize=fuzzer "
                        "(Debian: install libclang-rt-<version>-dev)")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C>:${WEFT_FUZZ_SAN_FLAGS};-fsanitize=fuzzer-no-link>")
  # weft.h: an ASan program links an ASan build of weft (this one).
  add_compile_definitions(${WEFT_SANITIZE_DEFINE_address})
  add_link_options(${WEFT_FUZZ_SAN_FLAGS})
endif()
