# SPDX-FileCopyrightText: 2026 QRedlock contributors
#
# SPDX-License-Identifier: BSD-3-Clause

# Packaging test, run by ctest as `cmake -D<var>=<value>... -P install_test.cmake` (see CMakeLists.txt).
#
# 1. `cmake --install` of the build into <WORK_DIR>/stage with DESTDIR and a fake prefix: any
#    absolute install destination shows up outside the prefix, and the tree is used from another
#    place than its prefix (as distribution packages are), so the package must be relocatable.
# 2. The expected files are there, and no private header.
# 3. consumer/ is configured with find_package(QRedlock), built and run.
# 4. consumer/main.cpp plus a file including every installed header are compiled with nothing but
#    `pkg-config --cflags --libs qredlock`, linked and run.

foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR CXX LIBDIR INCLUDEDIR PKG_CONFIG VERSION)
    if("${${var}}" STREQUAL "")
        message(FATAL_ERROR "install_test.cmake: -D${var}=... is missing")
    endif()
endforeach()

# Runs a command; stops the test with its output when it fails. Output in run_output.
function(run what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "install test: ${what} failed (${rc}):\n${out}")
    endif()
    set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix /qredlock-prefix)
set(stage ${WORK_DIR}/stage)
set(root ${stage}${prefix})
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# -- 1. install ----------------------------------------------------------------------------
set(config_args)
if(CONFIG)
    set(config_args --config ${CONFIG})
endif()
set(ENV{DESTDIR} ${stage})
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} ${config_args})
unset(ENV{DESTDIR})

# -- 2. the installed tree -----------------------------------------------------------------
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE ${stage} ${stage}/*)
list(LENGTH installed count)
message(STATUS "installed ${count} files under ${prefix}")
set(problems)
foreach(file IN LISTS installed)
    if(NOT file MATCHES "^qredlock-prefix/")
        list(APPEND problems "installed outside the prefix (absolute DESTINATION?): /${file}")
    endif()
    if(file MATCHES "_p\\.h$")
        list(APPEND problems "private header installed: /${file}")
    endif()
endforeach()
foreach(file
        ${INCLUDEDIR}/QRedlock/RedisEndpoint ${INCLUDEDIR}/QRedlock/redisendpoint.h
        ${INCLUDEDIR}/QRedlock/LockManager ${INCLUDEDIR}/QRedlock/DistributedLock
        ${INCLUDEDIR}/QRedlock/qredlock_export.h
        ${LIBDIR}/libqredlock.so
        ${LIBDIR}/cmake/QRedlock/QRedlockConfig.cmake ${LIBDIR}/cmake/QRedlock/QRedlockConfigVersion.cmake
        ${LIBDIR}/cmake/QRedlock/QRedlockTargets.cmake ${LIBDIR}/pkgconfig/qredlock.pc)
    if(NOT EXISTS ${root}/${file})
        list(APPEND problems "missing: ${prefix}/${file}")
    endif()
endforeach()
if(problems)
    list(JOIN problems "\n  " text)
    message(FATAL_ERROR "install test: the installed tree is wrong:\n  ${text}")
endif()

# -- 3. find_package consumer --------------------------------------------------------------
set(consumer_build ${WORK_DIR}/consumer-build)
set(generator_args)
if(GENERATOR)
    set(generator_args -G ${GENERATOR})
endif()
run("configuring the find_package consumer"
    ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${consumer_build} ${generator_args}
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${EXTRA_FLAGS}"
        -DCMAKE_PREFIX_PATH=${root} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
string(FIND "${run_output}" "found in ${root}/" at)
if(at LESS 0)
    message(FATAL_ERROR "install test: the consumer did not find the staged QRedlock:\n${run_output}")
endif()
run("building the find_package consumer" ${CMAKE_COMMAND} --build ${consumer_build})
run("running the find_package consumer" ${consumer_build}/qredlock_consumer)
message(STATUS "find_package: ${run_output}")

# -- 4. pkg-config -------------------------------------------------------------------------
set(ENV{PKG_CONFIG_PATH} ${root}/${LIBDIR}/pkgconfig)
run("pkg-config --modversion qredlock" ${PKG_CONFIG} --modversion qredlock)
string(STRIP "${run_output}" pc_version)
if(NOT pc_version STREQUAL VERSION)
    message(FATAL_ERROR "install test: qredlock.pc says version '${pc_version}', expected '${VERSION}'")
endif()
run("pkg-config --cflags --libs qredlock" ${PKG_CONFIG} --cflags --libs qredlock)
string(STRIP "${run_output}" pc_flags)
message(STATUS "pkg-config: ${pc_flags}")
string(FIND "${pc_flags}" "-I${root}/" at)
if(at LESS 0)
    message(FATAL_ERROR "install test: qredlock.pc does not point into the installed tree: ${pc_flags}")
endif()
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(extra_flags UNIX_COMMAND "${EXTRA_FLAGS}")

file(GLOB headers RELATIVE ${root}/${INCLUDEDIR}/QRedlock ${root}/${INCLUDEDIR}/QRedlock/*)
set(all_headers "// Generated by install_test.cmake: every installed header compiles on its own.\n")
foreach(header IN LISTS headers)
    string(APPEND all_headers "#include <QRedlock/${header}>\n")
endforeach()
file(WRITE ${WORK_DIR}/all_headers.cpp "${all_headers}")

# Qt's headers require position-independent code from programs (-fPIC, not just -fPIE).
run("compiling with pkg-config flags"
    ${CXX} -std=c++17 -fPIC ${extra_flags} ${CONSUMER_DIR}/main.cpp ${WORK_DIR}/all_headers.cpp
        ${pc_flags} -o ${WORK_DIR}/pkgconfig_consumer)
set(ENV{LD_LIBRARY_PATH} ${root}/${LIBDIR})
run("running the pkg-config consumer" ${WORK_DIR}/pkgconfig_consumer)
message(STATUS "pkg-config: ${run_output}")
message(STATUS "install test passed")
