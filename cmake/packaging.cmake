# SPDX-FileCopyrightText: 2026 QRedlock contributors
#
# SPDX-License-Identifier: BSD-3-Clause

# Debian packages: `cpack -G DEB` in a build configured with -DCMAKE_INSTALL_PREFIX=/usr
# (scripts/package-test does all of it). One package per install component:
#   libqredlock0          runtime      the shared library
#   libqredlock-dev       development  headers, CMake package, pkg-config file, API reference
#   qredlock              tool         the command-line tool, its man page and bash completion
#   qml6-module-qredlock  qml          the QML module
# Dependencies on Debian's packages come from dpkg-shlibdeps; those between ours are set here.

set(CPACK_PACKAGE_NAME qredlock)
set(CPACK_PACKAGE_VENDOR "QRedlock contributors")
set(CPACK_PACKAGE_CONTACT "QRedlock contributors <qredlock@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSES/BSD-3-Clause.txt)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Our own libqredlock.so.0 is found in the build tree while the others' dependencies are
# worked out; the dependency on its package is declared below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE ${PROJECT_HOMEPAGE_URL})

set(_soname libqredlock${PROJECT_VERSION_MAJOR})
set(_exact "(= ${PROJECT_VERSION})")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_soname})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "Distributed locks (Redlock) over Redis for Qt 6: shared library")

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libqredlock-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS "${_soname} ${_exact}, qt6-base-dev (>= 6.4)")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION "Distributed locks (Redlock) over Redis for Qt 6: development files")

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME qredlock)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOL_PACKAGE_DEPENDS "${_soname} ${_exact}")
set(CPACK_COMPONENT_TOOL_DESCRIPTION "Runs a command under a Redlock distributed lock, or once per cron occurrence")

set(CPACK_DEBIAN_QML_PACKAGE_NAME qml6-module-qredlock)
set(CPACK_DEBIAN_QML_PACKAGE_DEPENDS "${_soname} ${_exact}, qml6-module-qtqml")
set(CPACK_COMPONENT_QML_DESCRIPTION "Distributed locks (Redlock) over Redis for Qt 6: QML module QRedlock")

set(CPACK_COMPONENTS_ALL runtime development)
if(QREDLOCK_BUILD_TOOLS)
    list(APPEND CPACK_COMPONENTS_ALL tool)
endif()
if(QREDLOCK_BUILD_QML)
    list(APPEND CPACK_COMPONENTS_ALL qml)
endif()

include(CPack)
