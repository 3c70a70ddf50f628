# Install rules: headers, both libraries, weft.pc and the CMake package
# (find_package(weft) -> weft::weft (shared) and weft::weft_static).
include_guard(GLOBAL)
include(CMakePackageConfigHelpers)

set(WEFT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/weft" CACHE STRING
    "Where to install weftConfig.cmake (relative to the prefix)")
mark_as_advanced(WEFT_INSTALL_CMAKEDIR)

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
        FILE weftTargets.cmake
        DESTINATION "${WEFT_INSTALL_CMAKEDIR}"
        COMPONENT dev)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/weftConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/weftConfig.cmake"
  INSTALL_DESTINATION "${WEFT_INSTALL_CMAKEDIR}")
# 0.x: a minor bump may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/weftConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/weftConfig.cmake"
              "${PROJECT_BINARY_DIR}/weftConfigVersion.cmake"
        DESTINATION "${WEFT_INSTALL_CMAKEDIR}" COMPONENT dev)

# weft.pc: the prefix is only known at install time (cmake --install --prefix),
# so the file is written by the install script itself.
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
               "${PROJECT_BINARY_DIR}/weft.pc.in" @ONLY)
install(CODE "
  set(WEFT_PC_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/weft.pc.in\" \"${PROJECT_BINARY_DIR}/weft.pc\" @ONLY)
" COMPONENT dev)
install(FILES "${PROJECT_BINARY_DIR}/weft.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig" COMPONENT dev)
