# The CI matrix in one ctest run (used by tests/CMakeLists.txt in the normal,
# unsanitized build; `make test` sets these):
#
#   WEFT_MATRIX_DIRS  list of <kind>=<build dir>: other plain builds (another
#                     compiler, Release) whose tests/<name> programs are
#                     registered here as <kind>.<name>, labelled <kind>,
#                     e.g. "clang=/w/build-clang;release=/w/build-rel"
#   WEFT_FUZZ_DIR     a build dir configured with WEFT_BUILD_FUZZ=ON: registers
#                     fuzz.short, running its fuzz/fuzz_ops for
#                     WEFT_FUZZ_SECONDS on fuzz/corpus (fuzz/run.sh)
include_guard(GLOBAL)

set(WEFT_MATRIX_DIRS "" CACHE STRING "<kind>=<dir> build dirs whose tests to register as <kind>.*")
set(WEFT_FUZZ_DIR "" CACHE PATH "Build dir with WEFT_BUILD_FUZZ=ON whose fuzz_ops to run as fuzz.short")
set(WEFT_FUZZ_SECONDS 45 CACHE STRING "How long fuzz.short fuzzes (s)")

# Adds the matrix kinds to <kinds_var> and sets _dir_<kind>, _launcher_<kind>
# and _env_<kind> (empty: plain builds) in the caller's scope.
macro(weft_matrix_kinds kinds_var)
  foreach(_entry IN LISTS WEFT_MATRIX_DIRS)
    if(NOT _entry MATCHES "^([A-Za-z0-9_-]+)=(.+)$")
      message(FATAL_ERROR "WEFT_MATRIX_DIRS: '${_entry}' is not <kind>=<dir>")
    endif()
    set(_mkind "${CMAKE_MATCH_1}")
    get_filename_component(_mdir "${CMAKE_MATCH_2}" ABSOLUTE BASE_DIR "${PROJECT_BINARY_DIR}")
    if(_mdir STREQUAL PROJECT_BINARY_DIR)
      message(FATAL_ERROR "WEFT_MATRIX_DIRS: ${_mkind} must name another build dir, not this one")
    endif()
    if(NOT EXISTS "${_mdir}/CMakeCache.txt")
      message(WARNING "WEFT_MATRIX_DIRS: ${_mdir} is not a configured build dir (yet); "
                      "its ${_mkind}.* tests will fail until it is built")
    endif()
    set(_dir_${_mkind} "${_mdir}")
    set(_launcher_${_mkind} "")
    set(_env_${_mkind} "")
    list(APPEND ${kinds_var} ${_mkind})
  endforeach()
endmacro()

function(weft_register_fuzz_short)
  if(WEFT_FUZZ_DIR STREQUAL "")
    return()
  endif()
  find_program(WEFT_BASH bash)
  get_filename_component(_fdir "${WEFT_FUZZ_DIR}" ABSOLUTE BASE_DIR "${PROJECT_BINARY_DIR}")
  math(EXPR _timeout "${WEFT_FUZZ_SECONDS} + 240")
  add_test(NAME fuzz.short
           COMMAND "${WEFT_BASH}" "${PROJECT_SOURCE_DIR}/fuzz/run.sh"
                   "${_fdir}/fuzz/fuzz_ops" "${WEFT_FUZZ_SECONDS}"
           WORKING_DIRECTORY "${_fdir}/fuzz")
  # Like the stress tests: it runs alone with ctest -j2 (it keeps 2 workers
  # and the blocking threads busy).
  set_tests_properties(fuzz.short PROPERTIES
    LABELS fuzz TIMEOUT ${_timeout} PROCESSORS ${WEFT_STRESS_PROCESSORS})
endfunction()
