# tests.cmake - properties of tests that follow from what they run.
#
# ---- threads ------------------------------------------------------------
# The `threads` / `single-thread` label of a test, from what it runs.
# `make tsan` runs every test not labelled `single-thread`, so the label
# must follow the code under test: a test is single-threaded only if no
# program it runs can start a thread.
#
#   th_test_threads(TEST [RUNS <target>...])
#
# labels TEST (LABELS keeps its other entries) `threads` when any target
# in RUNS can start a thread, else `single-thread`.  A target can start a
# thread when one of its own sources calls pthread_create, thrd_create or
# uv_thread_create, or when it links (directly or through any library it
# links) a target that can, or a library whose code is not ours and not
# known to start none (TH_THREAD_FREE_LIBS: libuv, libcurl, microhttpd,
# h2o, ... keep thread pools).  So the engine, whose memories are
# refilled by a thread (src/wasm/memory.c), makes every test that links it
# threaded, and a thread added to a part relabels its tests by itself.
#
# The label is set when the directory's CMakeLists.txt has been read (the
# links a target gets after the call count).  In a build without
# sanitizers every `single-thread` test runs with libth_no_threads.so
# preloaded (tests/no_threads.c): a thread it starts after all ends it
# with a message, so a wrong label fails the normal run instead of hiding
# the test from TSan.
include_guard(GLOBAL)

# Libraries not built here whose code starts no thread.
set(TH_THREAD_FREE_LIBS PkgConfig::SQLITE3 PkgConfig::LIBCRYPTO PkgConfig::JANSSON PkgConfig::CMOCKA
    Threads::Threads m)
set(TH_THREAD_CALLS "pthread_create|thrd_create|uv_thread_create")

if(THEATER_SANITIZE STREQUAL "")
  add_library(th_no_threads MODULE ${CMAKE_SOURCE_DIR}/tests/no_threads.c)
  target_compile_options(th_no_threads PRIVATE ${TH_WARNINGS})
endif()

# _th_threads(ITEM OUT): OUT is ON when the library or target ITEM (an
# entry of a LINK_LIBRARIES list) can start a thread.  Memoized.
function(_th_threads item out)
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item IN_LIST TH_THREAD_FREE_LIBS)
    set(${out} OFF PARENT_SCOPE)
    return()
  endif()
  if(NOT TARGET "${item}")
    # a library by name or path, a generator expression: unknown code
    set(${out} ON PARENT_SCOPE)
    return()
  endif()
  get_property(known GLOBAL PROPERTY "_TH_THREADS_${item}" SET)
  if(known)
    get_property(r GLOBAL PROPERTY "_TH_THREADS_${item}")
    set(${out} ${r} PARENT_SCOPE)
    return()
  endif()
  set(r OFF)
  get_target_property(imported "${item}" IMPORTED)
  if(imported)
    set(r ON)
  else()
    get_target_property(dir "${item}" SOURCE_DIR)
    get_target_property(srcs "${item}" SOURCES)
    foreach(s IN LISTS srcs)
      if(NOT IS_ABSOLUTE "${s}")
        set(s "${dir}/${s}")
      endif()
      # (generated sources do not exist yet: the generator's own code is
      # what counts, and it is another target's)
      if(EXISTS "${s}" AND NOT IS_DIRECTORY "${s}")
        file(STRINGS "${s}" calls REGEX "(${TH_THREAD_CALLS})[ \t]*\\(")
        if(calls)
          set(r ON)
          break()
        endif()
      endif()
    endforeach()
    if(NOT r)
      get_target_property(libs "${item}" LINK_LIBRARIES)
      if(libs)
        foreach(l IN LISTS libs)
          _th_threads("${l}" t)
          if(t)
            set(r ON)
            break()
          endif()
        endforeach()
      endif()
    endif()
  endif()
  set_property(GLOBAL PROPERTY "_TH_THREADS_${item}" ${r})
  set(${out} ${r} PARENT_SCOPE)
endfunction()

function(_th_label_test test)
  set(threads OFF)
  foreach(t IN LISTS ARGN)
    _th_threads("${t}" threads)
    if(threads)
      break()
    endif()
  endforeach()
  get_test_property(${test} LABELS labels)
  if(NOT labels)
    set(labels "")
  endif()
  list(REMOVE_ITEM labels threads single-thread)
  if(threads)
    list(APPEND labels threads)
  else()
    list(APPEND labels single-thread)
    if(TARGET th_no_threads)
      set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
        "LD_PRELOAD=$<TARGET_FILE:th_no_threads>")
    endif()
  endif()
  set_tests_properties(${test} PROPERTIES LABELS "${labels}")
endfunction()

function(th_test_threads test)
  cmake_parse_arguments(A "" "" "RUNS" ${ARGN})
  set(runs "")
  foreach(t IN LISTS A_RUNS)
    string(APPEND runs " [[${t}]]")
  endforeach()
  # (the arguments are taken now; the labelling waits for the end of the
  # directory, when every target_link_libraries has been seen)
  cmake_language(EVAL CODE "cmake_language(DEFER CALL _th_label_test [[${test}]]${runs})")
endfunction()

# ---- skips --------------------------------------------------------------
#   th_test_skips(TEST SOURCE)
#
# A cmocka program that uses tests/test_skip.h exits 77 when it skipped a
# case (a tool or guest it needs is missing): ctest shows it as skipped,
# not passed.  (Only those: a plain cmocka main returns its number of
# failures, and 77 of them must not read as a skip.)  Under
# THEATER_REQUIRE_SUITES=1 (.ci/run) such a skip fails instead.
function(th_test_skips test src)
  file(STRINGS "${src}" uses REGEX "#[ \t]*include[ \t]+\"test_skip\.h\"")
  if(uses)
    set_tests_properties(${test} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endfunction()
