# SPDX-FileCopyrightText: 2026 QRedlock contributors
#
# SPDX-License-Identifier: BSD-3-Clause

# ctest qmllint: qmllint over every QML file of the repository, run from the repository root
# (where the top-level qmldir is) with the build's QML import folder. Any output (a warning,
# or an info line) fails the test, as a non-zero exit of qmllint does.
#   cmake -DQMLLINT=... -DSOURCE_DIR=... -DIMPORT_DIR=... -P qmllint.cmake
foreach(_var QMLLINT SOURCE_DIR IMPORT_DIR)
    if(NOT ${_var})
        message(FATAL_ERROR "qmllint.cmake: ${_var} not set")
    endif()
endforeach()

# The repository's QML files: git's list in a checkout, else every .qml outside build trees.
set(_files "")
find_program(_git git)
if(_git AND EXISTS "${SOURCE_DIR}/.git")
    execute_process(COMMAND "${_git}" ls-files "*.qml"
        WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE _out RESULT_VARIABLE _rc
        OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_rc EQUAL 0)
        string(REPLACE "\n" ";" _files "${_out}")
    endif()
endif()
if(NOT _files)
    file(GLOB_RECURSE _all RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*.qml")
    foreach(_f IN LISTS _all)
        if(NOT _f MATCHES "^build[^/]*/")
            list(APPEND _files "${_f}")
        endif()
    endforeach()
endif()
list(LENGTH _files _count)
if(_count EQUAL 0)
    message(FATAL_ERROR "qmllint.cmake: no QML files found under ${SOURCE_DIR}")
endif()

execute_process(COMMAND "${QMLLINT}" -I "${IMPORT_DIR}" ${_files}
    WORKING_DIRECTORY "${SOURCE_DIR}"
    OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
string(STRIP "${_out}${_err}" _text)
if(NOT _rc EQUAL 0 OR NOT _text STREQUAL "")
    message(FATAL_ERROR "qmllint (exit ${_rc}) on ${_count} files:\n${_text}")
endif()
message(STATUS "qmllint: ${_count} files clean: ${_files}")
