# Writes the version source (config/version.cpp.in -> OUT) with the commit of the source tree.
# Run at every build (cmake -P), so a new commit is picked up without reconfiguring; the file
# is rewritten only when its text changes, so an unchanged commit rebuilds nothing.
#
#   cmake -DSOURCE_DIR=… -DIN=… -DOUT=… -DTIDINGS_VERSION=… -P cmake/commit.cmake
#
# Outside a git checkout of this project (a tarball, a container build without .git, no git
# installed) the commit is $TIDINGS_COMMIT if set, else "unknown": never a failed build, and
# never the commit of some other repository the tree happens to sit in.
set(TIDINGS_COMMIT "")
find_program(GIT_PROGRAM git)
if(GIT_PROGRAM)
  execute_process(COMMAND "${GIT_PROGRAM}" -C "${SOURCE_DIR}" rev-parse --show-toplevel
                  OUTPUT_VARIABLE top RESULT_VARIABLE rc ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0)
    file(REAL_PATH "${top}" top)
    file(REAL_PATH "${SOURCE_DIR}" source)
  endif()
  if(rc EQUAL 0 AND top STREQUAL source)
    # --match of a tag that never exists: only the abbreviated hash, plus -dirty.
    execute_process(COMMAND "${GIT_PROGRAM}" -C "${SOURCE_DIR}" describe --always --dirty
                            --abbrev=12 --match=no-tag-matches-this
                    OUTPUT_VARIABLE TIDINGS_COMMIT RESULT_VARIABLE rc ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
      set(TIDINGS_COMMIT "")
    endif()
  endif()
endif()
if(TIDINGS_COMMIT STREQUAL "" AND DEFINED ENV{TIDINGS_COMMIT})
  set(TIDINGS_COMMIT "$ENV{TIDINGS_COMMIT}")
endif()
if(TIDINGS_COMMIT STREQUAL "")
  set(TIDINGS_COMMIT "unknown")
endif()
string(REGEX REPLACE "[^A-Za-z0-9._+-]" "" TIDINGS_COMMIT "${TIDINGS_COMMIT}")
configure_file("${IN}" "${OUT}" @ONLY)
