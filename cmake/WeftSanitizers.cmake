# Sanitizer support.
#
# WEFT_SANITIZE=thread   -> -fsanitize=thread
# WEFT_SANITIZE=address  -> -fsanitize=address,undefined -fno-omit-frame-pointer
#                           -fno-sanitize-recover=undefined
# The flags are added (compile and link) to every target defined after this
# module is included: library, tests, benches, examples; so is the macro that
# tells weft.h which build a program links (WEFT_LINK_TSAN / WEFT_LINK_ASAN).
# WEFT_PACKAGE_NAME is the name the build installs under: weft, weft-tsan or
# weft-asan (library, pkg-config file, CMake package; WeftInstall.cmake).
#
# weft_sanitizer_test_setup(<thread|address> <launcher_var> <env_var>)
#   Sets <env_var> to the ENVIRONMENT list for tests built with that sanitizer
#   and <launcher_var> to a command prefix for them (usually empty).  It probes
#   the machine once (result cached): gcc 12's TSan dies with "unexpected
#   memory mapping" on kernels with vm.mmap_rnd_bits > 28, and then the tests
#   run under `setarch <arch> -R` (ASLR off); LeakSanitizer cannot work where
#   ptrace is forbidden, and then the leak check is switched off (a warning says so).
include_guard(GLOBAL)

set(WEFT_TSAN_ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
set(WEFT_ASAN_ENVIRONMENT
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
    "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1")

set(WEFT_SANITIZE_FLAGS_thread -fsanitize=thread)
set(WEFT_SANITIZE_FLAGS_address
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
set(WEFT_SANITIZE_DEFINE_thread WEFT_LINK_TSAN)
set(WEFT_SANITIZE_DEFINE_address WEFT_LINK_ASAN)
set(WEFT_SANITIZE_SUFFIX_thread tsan)
set(WEFT_SANITIZE_SUFFIX_address asan)

if(NOT WEFT_SANITIZE STREQUAL "" AND NOT WEFT_SANITIZE STREQUAL "thread"
   AND NOT WEFT_SANITIZE STREQUAL "address")
  message(FATAL_ERROR "WEFT_SANITIZE must be empty, 'thread' or 'address' (got '${WEFT_SANITIZE}')")
endif()

if(WEFT_SANITIZE)
  set(_weft_san_flags ${WEFT_SANITIZE_FLAGS_${WEFT_SANITIZE}})
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "")
  list(JOIN _weft_san_flags " " CMAKE_REQUIRED_FLAGS)
  set(CMAKE_REQUIRED_LINK_OPTIONS ${_weft_san_flags})
  set(CMAKE_REQUIRED_QUIET ON)
  check_c_source_compiles("int main(void) { return 0; }" WEFT_HAVE_SANITIZE_${WEFT_SANITIZE})
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  unset(CMAKE_REQUIRED_QUIET)
  if(NOT WEFT_HAVE_SANITIZE_${WEFT_SANITIZE})
    message(FATAL_ERROR "WEFT_SANITIZE=${WEFT_SANITIZE}: ${CMAKE_C_COMPILER} cannot build with "
                        "'${_weft_san_flags}' (is the sanitizer runtime installed? "
                        "Debian: libtsan2 / libasan8 libubsan1, normally pulled in by gcc)")
  endif()
  add_compile_options("$<$<COMPILE_LANGUAGE:C>:${_weft_san_flags}>")
  add_compile_definitions(${WEFT_SANITIZE_DEFINE_${WEFT_SANITIZE}})
  add_link_options(${_weft_san_flags})
  set(WEFT_PACKAGE_NAME "weft-${WEFT_SANITIZE_SUFFIX_${WEFT_SANITIZE}}")
else()
  set(WEFT_PACKAGE_NAME weft)
endif()

function(weft_sanitizer_test_setup kind launcher_var env_var)
  if(kind STREQUAL "thread")
    set(_env ${WEFT_TSAN_ENVIRONMENT})
    set(_prefix TSAN)
  elseif(kind STREQUAL "address")
    set(_env ${WEFT_ASAN_ENVIRONMENT})
    set(_prefix ASAN)
  else()
    message(FATAL_ERROR "weft_sanitizer_test_setup: unknown kind '${kind}'")
  endif()

  # Only the probe's outcome is cached (the options above may change).
  if(NOT DEFINED WEFT_${_prefix}_PROBED)
    set(_probe_env ${_env})
    _weft_sanitizer_probe(${kind} _launcher _probe_env)
    set(_no_leaks OFF)
    if(NOT _probe_env STREQUAL _env)
      set(_no_leaks ON)
    endif()
    set(WEFT_${_prefix}_PROBED ON CACHE INTERNAL "")
    set(WEFT_${_prefix}_PROBE_LAUNCHER "${_launcher}" CACHE INTERNAL "")
    set(WEFT_${_prefix}_PROBE_NO_LEAKS ${_no_leaks} CACHE INTERNAL "")
  endif()
  if(WEFT_${_prefix}_PROBE_NO_LEAKS)
    list(TRANSFORM _env REPLACE "detect_leaks=1" "detect_leaks=0")
  endif()
  set(${launcher_var} "${WEFT_${_prefix}_PROBE_LAUNCHER}" PARENT_SCOPE)
  set(${env_var} "${_env}" PARENT_SCOPE)
endfunction()

# Builds a tiny threaded program with the sanitizer and runs it.
# <env_inout> names a list of environment settings; the probe may change it.
function(_weft_sanitizer_probe kind launcher_out env_inout)
  set(_env ${${env_inout}})
  set(_launcher "")
  set(_rc2 1)
  if(CMAKE_CROSSCOMPILING)
    set(${launcher_out} "" PARENT_SCOPE)
    return()
  endif()
  set(_dir "${CMAKE_BINARY_DIR}/CMakeFiles/weft_${kind}_probe")
  set(_src "${_dir}/probe.c")
  set(_exe "${_dir}/probe")
  file(MAKE_DIRECTORY "${_dir}")
  file(WRITE "${_src}" [=[
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int counter;
static void *run(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
    return NULL;
}
int main(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, run, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    char *p = malloc(16);
    free(p);
    printf("probe %d\n", counter);
    return counter == 4 ? 0 : 1;
}
]=])
  set(_flags ${WEFT_SANITIZE_FLAGS_${kind}} -pthread)
  try_compile(_ok "${_dir}/build" "${_src}"
              COMPILE_DEFINITIONS ${_flags}
              LINK_OPTIONS ${_flags}
              OUTPUT_VARIABLE _out
              COPY_FILE "${_exe}")
  if(NOT _ok)
    message(WARNING "weft: cannot build a ${kind}-sanitized probe with ${CMAKE_C_COMPILER}; "
                    "the ${kind} sanitizer tests will probably fail.\n${_out}")
    set(${launcher_out} "" PARENT_SCOPE)
    return()
  endif()

  # Run it with the options the tests get.
  set(_cmd_env "")
  foreach(_e IN LISTS _env)
    list(APPEND _cmd_env "${_e}")
  endforeach()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_cmd_env} "${_exe}"
                  RESULT_VARIABLE _rc OUTPUT_VARIABLE _o ERROR_VARIABLE _e TIMEOUT 60)
  if(NOT _rc EQUAL 0)
    if(kind STREQUAL "thread")
      find_program(WEFT_SETARCH setarch)
      if(WEFT_SETARCH)
        execute_process(COMMAND uname -m OUTPUT_VARIABLE _arch OUTPUT_STRIP_TRAILING_WHITESPACE)
        execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_cmd_env}
                                "${WEFT_SETARCH}" "${_arch}" -R "${_exe}"
                        RESULT_VARIABLE _rc2 OUTPUT_QUIET ERROR_QUIET TIMEOUT 60)
        if(_rc2 EQUAL 0)
          set(_launcher "${WEFT_SETARCH};${_arch};-R")
          message(STATUS "weft: TSan needs ASLR off on this kernel; tsan tests run under 'setarch ${_arch} -R'")
        endif()
      endif()
    elseif(kind STREQUAL "address" AND "${_e}" MATCHES "LeakSanitizer")
      list(TRANSFORM _env REPLACE "detect_leaks=1" "detect_leaks=0")
      execute_process(COMMAND ${CMAKE_COMMAND} -E env ${_env} "${_exe}"
                      RESULT_VARIABLE _rc2 OUTPUT_QUIET ERROR_QUIET TIMEOUT 60)
      if(_rc2 EQUAL 0)
        message(WARNING "weft: LeakSanitizer does not work here (ptrace forbidden?); "
                        "asan tests run with detect_leaks=0")
      endif()
    endif()
    if(NOT _rc2 EQUAL 0)
      message(WARNING "weft: a ${kind}-sanitized probe program fails on this machine "
                      "(exit ${_rc}); the ${kind} sanitizer tests will probably fail too.\n${_e}")
    endif()
  endif()
  set(${launcher_out} "${_launcher}" PARENT_SCOPE)
  set(${env_inout} "${_env}" PARENT_SCOPE)
endfunction()
