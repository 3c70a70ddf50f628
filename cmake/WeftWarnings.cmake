# weft_set_warnings(<target> [STRICT])
#
# Warning flags accepted by gcc >= 12 and clang >= 14; C only (the .S files
# get none).  STRICT (the library) adds -Wmissing-prototypes and friends
# (every non-static function must be declared in a header), -Wvla (task
# stacks are small) and -Wwrite-strings.  Tests, benches and examples get the
# base set plus -Wno-unused-parameter (cmocka's `void **state`) and may pass
# string literals as a task's void *arg.  WEFT_WERROR adds -Werror to all.
include_guard(GLOBAL)

set(WEFT_WARNINGS_BASE
    -Wall
    -Wextra
    -Wshadow
    -Wpointer-arith
    -Wformat=2
    -Wno-format-nonliteral
    -Wstrict-prototypes
    -Wold-style-definition
    -Wimplicit-fallthrough
    -Wundef)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND WEFT_WARNINGS_BASE -Wlogical-op -Wduplicated-cond)
endif()

set(WEFT_WARNINGS_STRICT
    -Wwrite-strings
    -Wmissing-prototypes
    -Wmissing-declarations
    -Wnested-externs
    -Wvla)

set(WEFT_WARNINGS_RELAXED
    -Wno-unused-parameter)

function(weft_set_warnings target)
  cmake_parse_arguments(PARSE_ARGV 1 W "STRICT" "" "")
  set(_flags ${WEFT_WARNINGS_BASE})
  if(W_STRICT)
    list(APPEND _flags ${WEFT_WARNINGS_STRICT})
  else()
    list(APPEND _flags ${WEFT_WARNINGS_RELAXED})
  endif()
  if(WEFT_WERROR)
    list(APPEND _flags -Werror)
  endif()
  list(JOIN _flags ";" _flags)
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:C>:${_flags}>")
endfunction()
