# guest.cmake - build WebAssembly guests (C -> wasm32-wasi) with clang and
# wasi-libc.  Included by examples/CMakeLists.txt and bench/CMakeLists.txt.
#
# After inclusion TH_GUEST_ENABLED says whether guests can be built: it is
# OFF when the option THEATER_GUEST is OFF or the toolchain is missing (a
# warning then names what is missing).
#
#   th_add_guest(NAME
#                OUTPUT <file.wasm>          # where the module goes
#                SOURCES <file.c>...         # C sources
#                [REACTOR]                   # no main(): -mexec-model=reactor
#                [EXPORTS <symbol>...]       # extra exports (--export=...)
#                [CFLAGS <flag>...]          # extra compile flags
#                [DEPENDS <file>...])        # extra dependencies (headers)
#
# creates the custom target guest_<NAME> (part of `all`).  The command line
# is: clang --target=wasm32-wasi --sysroot=<wasi sysroot> -O2 ... -o OUTPUT.
# Debian's wasi-libc installs headers in /usr/include/wasm32-wasi and
# libraries in /usr/lib/wasm32-wasi, so the sysroot is /usr; the compiler
# runtime (libclang_rt.builtins-wasm32.a) comes from
# libclang-rt-14-dev-wasm32.  TH_WASI_SYSROOT overrides the sysroot (e.g. a
# wasi-sdk's share/wasi-sysroot).
include_guard(DIRECTORY)

set(TH_GUEST_ENABLED OFF)
if(NOT THEATER_GUEST)
  message(STATUS "guest: THEATER_GUEST=OFF, not building wasm guests")
  return()
endif()

find_program(TH_GUEST_CC NAMES clang clang-14 clang-15 clang-16
             DOC "clang used to compile wasm32-wasi guests")
if(NOT TH_GUEST_SYSROOT_GUESS)
  foreach(dir /usr /usr/share/wasi-sysroot /opt/wasi-sdk/share/wasi-sysroot)
    if(EXISTS ${dir}/lib/wasm32-wasi/libc.a)
      set(TH_GUEST_SYSROOT_GUESS ${dir})
      break()
    endif()
  endforeach()
endif()
set(TH_WASI_SYSROOT "${TH_GUEST_SYSROOT_GUESS}" CACHE PATH "wasi-libc sysroot for wasm guests")

if(NOT TH_GUEST_CC)
  message(WARNING "guest: clang not found (Debian package clang); wasm guests are not built")
  return()
endif()
if(NOT TH_WASI_SYSROOT OR NOT EXISTS ${TH_WASI_SYSROOT}/lib/wasm32-wasi/libc.a)
  message(WARNING "guest: wasi-libc not found (Debian package wasi-libc); wasm guests are not built")
  return()
endif()

# --strip-debug drops the DWARF sections wasi-libc carries; the name
# section (function names for backtraces) stays.
set(TH_GUEST_FLAGS --target=wasm32-wasi --sysroot=${TH_WASI_SYSROOT} -O2 -Wl,--strip-debug)

# Check once that the toolchain links a program (catches a missing wasm-ld
# or compiler runtime).
if(NOT DEFINED TH_GUEST_WORKS)
  set(_probe_dir ${CMAKE_BINARY_DIR}/CMakeFiles/guest-probe)
  file(MAKE_DIRECTORY ${_probe_dir})
  file(WRITE ${_probe_dir}/probe.c "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n")
  execute_process(COMMAND ${TH_GUEST_CC} ${TH_GUEST_FLAGS} ${_probe_dir}/probe.c -o ${_probe_dir}/probe.wasm
                  RESULT_VARIABLE _probe_rc OUTPUT_VARIABLE _probe_out ERROR_VARIABLE _probe_out)
  if(_probe_rc EQUAL 0)
    set(TH_GUEST_WORKS ON CACHE INTERNAL "wasm32-wasi toolchain works")
  else()
    set(TH_GUEST_WORKS OFF CACHE INTERNAL "wasm32-wasi toolchain works")
    message(WARNING "guest: ${TH_GUEST_CC} cannot link a wasm32-wasi program (need lld and "
                    "libclang-rt-14-dev-wasm32):\n${_probe_out}")
  endif()
endif()
if(NOT TH_GUEST_WORKS)
  return()
endif()

set(TH_GUEST_ENABLED ON)
message(STATUS "guest: ${TH_GUEST_CC} --target=wasm32-wasi --sysroot=${TH_WASI_SYSROOT}")

function(th_add_guest name)
  cmake_parse_arguments(G "REACTOR" "OUTPUT" "SOURCES;EXPORTS;CFLAGS;DEPENDS" ${ARGN})
  if(NOT G_OUTPUT OR NOT G_SOURCES)
    message(FATAL_ERROR "th_add_guest(${name}): OUTPUT and SOURCES are required")
  endif()
  set(flags ${TH_GUEST_FLAGS} ${G_CFLAGS})
  if(G_REACTOR)
    list(APPEND flags -mexec-model=reactor)
  endif()
  foreach(sym ${G_EXPORTS})
    list(APPEND flags -Wl,--export=${sym})
  endforeach()
  set(srcs "")
  foreach(src ${G_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND srcs ${abs})
  endforeach()
  get_filename_component(outdir ${G_OUTPUT} DIRECTORY)
  add_custom_command(
    OUTPUT ${G_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND ${TH_GUEST_CC} ${flags} ${srcs} -o ${G_OUTPUT}
    DEPENDS ${srcs} ${G_DEPENDS}
    COMMENT "Building wasm guest ${name}"
    VERBATIM)
  add_custom_target(guest_${name} ALL DEPENDS ${G_OUTPUT})
endfunction()
