# Install rules: headers, both libraries, weft.pc and the CMake package
# (find_package(weft) -> weft::weft (shared) and weft::weft_static).
#
# A sanitizer build installs the same under its own name, WEFT_PACKAGE_NAME
# (WeftSanitizers.cmake): libweft-tsan.so / .a, weft-tsan.pc,
# find_package(weft-tsan) -> weft::weft-tsan and weft::weft-tsan_static,
# whose users compile and link with the build's sanitizer flags and its
# WEFT_LINK_* macro (weft.h checks them).  It can share a prefix with the
# plain build: the headers are the same files.
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(_pkg ${WEFT_PACKAGE_NAME})
# Each package in a folder of its name there, where find_package looks.
set(WEFT_INSTALL_PACKAGEDIR "${CMAKE_INSTALL_LIBDIR}/cmake" CACHE STRING
    "Where to install the CMake package's folder (relative to the prefix)")
mark_as_advanced(WEFT_INSTALL_PACKAGEDIR)
set(WEFT_INSTALL_CMAKEDIR "${WEFT_INSTALL_PACKAGEDIR}/${_pkg}")

set(WEFT_PC_CFLAGS "")
set(WEFT_PC_LIBS "")
if(WEFT_SANITIZE)
  set(_flags ${WEFT_SANITIZE_FLAGS_${WEFT_SANITIZE}})
  set(_define ${WEFT_SANITIZE_DEFINE_${WEFT_SANITIZE}})
  foreach(_t weft weft_static)
    target_compile_options(${_t} INTERFACE "$<INSTALL_INTERFACE:${_flags}>")
    target_compile_definitions(${_t} INTERFACE "$<INSTALL_INTERFACE:${_define}>")
    target_link_options(${_t} INTERFACE "$<INSTALL_INTERFACE:${_flags}>")
  endforeach()
  list(JOIN _flags " " _flags)
  set(WEFT_PC_CFLAGS " ${_flags} -D${_define}")
  set(WEFT_PC_LIBS " ${_flags}")
endif()

install(FILES "${PROJECT_SOURCE_DIR}/include/weft.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT dev)
if(WEFT_PUBLIC_SUBHEADERS)
  install(FILES ${WEFT_PUBLIC_SUBHEADERS}
          DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/weft" COMPONENT dev)
endif()

install(TARGETS weft weft_static
        EXPORT weftTargets
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT runtime NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT dev
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT runtime
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT weftTargets
        NAMESPACE weft::
        FILE ${_pkg}Targets.cmake
        DESTINATION "${WEFT_INSTALL_CMAKEDIR}"
        COMPONENT dev)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/weftConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/${_pkg}Config.cmake"
  INSTALL_DESTINATION "${WEFT_INSTALL_CMAKEDIR}")
# 0.x: a minor bump may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/${_pkg}ConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/${_pkg}Config.cmake"
              "${PROJECT_BINARY_DIR}/${_pkg}ConfigVersion.cmake"
        DESTINATION "${WEFT_INSTALL_CMAKEDIR}" COMPONENT dev)

# weft.pc (weft-tsan.pc, ...): the prefix is only known at install time
# (cmake --install --prefix), so the file is written by the install script
# itself.
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(WEFT_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(WEFT_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
set(WEFT_PC_PREFIX "@WEFT_PC_INSTALL_PREFIX@")   # filled in at install time
if(WEFT_TLS)
  set(WEFT_PC_TLS_REQUIRES ", openssl")             # OpenSSL's own openssl.pc
else()
  set(WEFT_PC_TLS_REQUIRES "")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/weft.pc.in"
               "${PROJECT_BINARY_DIR}/${_pkg}.pc.in" @ONLY)
install(CODE "
  set(WEFT_PC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/${_pkg}.pc.in\" \"${PROJECT_BINARY_DIR}/${_pkg}.pc\" @ONLY)
" COMPONENT dev)
install(FILES "${PROJECT_BINARY_DIR}/${_pkg}.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT dev)

# A build configured without a type is Debug (the test builds rely on it):
# say so when one is installed, as users rarely want -O0.
install(CODE "
  if(CMAKE_INSTALL_CONFIG_NAME STREQUAL \"Debug\")
    message(STATUS \"${_pkg}: installing a Debug build (-O0); `make install`, or \"
                   \"-DCMAKE_BUILD_TYPE=Release at configure time, installs an optimised one\")
  endif()
" COMPONENT dev)
