# SPDX-FileCopyrightText: 2026 QRedlock contributors
#
# SPDX-License-Identifier: BSD-3-Clause

# ctest qmltypes_uptodate: the committed qredlock.qmltypes at the repository root (next to
# the top-level qmldir, whose `typeinfo` names it, for QML tooling run from there) is the
# one the build generates.
#   cmake -DCOMMITTED=... -DGENERATED=... -P qmltypescheck.cmake
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${COMMITTED}" "${GENERATED}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    find_program(_diff diff)
    set(_text "")
    if(_diff)
        execute_process(COMMAND "${_diff}" -u "${COMMITTED}" "${GENERATED}" OUTPUT_VARIABLE _text)
    endif()
    message(FATAL_ERROR "${COMMITTED} differs from the generated ${GENERATED}: "
                        "run `cmake --build <build> --target update_qmltypes` and commit it.\n${_text}")
endif()
