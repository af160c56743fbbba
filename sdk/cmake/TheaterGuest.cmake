# TheaterGuest.cmake - builds wasm32 actors with clang and wasm-ld and the
# C guest SDK (sdk/c). Included by sdk/CMakeLists.txt and
# examples/actors/CMakeLists.txt; defines
#
#   THEATER_GUEST_OK          TRUE when clang can build wasm32 modules here
#   theater_add_actor(NAME OUTPUT <file.wasm> SOURCES <c files>...)
#                             a target `actor_<NAME>` (built by ALL) that
#                             compiles the sources with the SDK into OUTPUT
#
# Actors are freestanding (--target=wasm32, -nostdlib): the SDK brings its
# own allocator and the few C library functions the compiler may call, so a
# module imports only theater:simple/* functions and exports only memory,
# cabi_realloc and its handlers.
include_guard(GLOBAL)

set(THEATER_GUEST_STACK_SIZE 16384 CACHE STRING "Shadow-stack bytes of example actors")
set(THEATER_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/../c)
get_filename_component(THEATER_SDK_DIR ${THEATER_SDK_DIR} ABSOLUTE)
set(THEATER_SDK_SOURCES ${THEATER_SDK_DIR}/theater.c ${THEATER_SDK_DIR}/theater_text.c
    ${THEATER_SDK_DIR}/theater_imports.c)
set(THEATER_SDK_HEADERS ${THEATER_SDK_DIR}/theater.h ${THEATER_SDK_DIR}/theater_int.h
    ${THEATER_SDK_DIR}/theater_wit.h)

set(THEATER_GUEST_OK FALSE)
if(THEATER_GUEST)
  find_program(THEATER_GUEST_CC NAMES clang clang-16 clang-15 clang-14 DOC "clang for wasm32 guests")
  find_program(THEATER_WASM_LD NAMES wasm-ld wasm-ld-16 wasm-ld-15 wasm-ld-14 DOC "wasm-ld")
  if(THEATER_GUEST_CC AND THEATER_WASM_LD)
    # Probe once: can this clang compile and link a wasm32 module?
    set(_probe_dir ${CMAKE_BINARY_DIR}/CMakeFiles/theater_guest_probe)
    file(MAKE_DIRECTORY ${_probe_dir})
    file(WRITE ${_probe_dir}/probe.c "int probe(void); int probe(void) { return 42; }\n")
    execute_process(
      COMMAND ${THEATER_GUEST_CC} --target=wasm32 -nostdlib -fuse-ld=lld -Wl,--no-entry
              -Wl,--export=probe ${_probe_dir}/probe.c -o ${_probe_dir}/probe.wasm
      RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_VARIABLE _probe_err)
    if(_probe_rc EQUAL 0)
      set(THEATER_GUEST_OK TRUE)
    else()
      message(WARNING "THEATER_GUEST: ${THEATER_GUEST_CC} cannot build wasm32 modules; "
                      "example actors are skipped:\n${_probe_err}")
    endif()
  else()
    message(WARNING "THEATER_GUEST: clang or wasm-ld not found; example actors are skipped")
  endif()
endif()

set(THEATER_GUEST_CFLAGS --target=wasm32 -O2 -std=gnu11 -ffreestanding -nostdlib
    -I${THEATER_SDK_DIR} ${TH_WARNINGS})
set(THEATER_GUEST_LDFLAGS -fuse-ld=lld -Wl,--no-entry
    -Wl,-z,stack-size=${THEATER_GUEST_STACK_SIZE})

function(theater_add_actor name)
  cmake_parse_arguments(A "" "OUTPUT" "SOURCES" ${ARGN})
  if(NOT THEATER_GUEST_OK)
    return()
  endif()
  get_filename_component(_dir ${A_OUTPUT} DIRECTORY)
  add_custom_command(
    OUTPUT ${A_OUTPUT}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_dir}
    COMMAND ${THEATER_GUEST_CC} ${THEATER_GUEST_CFLAGS} ${THEATER_GUEST_LDFLAGS}
            ${A_SOURCES} ${THEATER_SDK_SOURCES} -o ${A_OUTPUT}
    DEPENDS ${A_SOURCES} ${THEATER_SDK_SOURCES} ${THEATER_SDK_HEADERS}
    COMMENT "Building wasm32 actor ${name}"
    COMMAND_EXPAND_LISTS VERBATIM)
  add_custom_target(actor_${name} ALL DEPENDS ${A_OUTPUT})
endfunction()
