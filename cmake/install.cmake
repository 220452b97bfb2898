# `cmake --install`: headers, the static library and a CMake package, so that C++ projects can
# use `find_package(yirage)` and link `yirage::yirage`.

# A wheel built by `pip install .` carries the Python module and the command only.
if(SKBUILD)
  return()
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(YIRAGE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/yirage)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/src/yirage/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/yirage
        FILES_MATCHING PATTERN "*.h" PATTERN "*.def")

# The Qwen3 tokenizer files that demo checkpoints copy (found by `yirage make-demo-model`).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/qwen3-tokenizer DESTINATION ${CMAKE_INSTALL_DATADIR}/yirage)

install(TARGETS yirage_lib
        EXPORT yirageTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

install(EXPORT yirageTargets
        NAMESPACE yirage::
        FILE yirageTargets.cmake
        DESTINATION ${YIRAGE_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/yirageConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/yirageConfig.cmake
                              INSTALL_DESTINATION ${YIRAGE_INSTALL_CMAKEDIR})
# Before 1.0 a minor release may change the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/yirageConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/yirageConfig.cmake
              ${PROJECT_BINARY_DIR}/yirageConfigVersion.cmake
        DESTINATION ${YIRAGE_INSTALL_CMAKEDIR})
