# compare.cmake - run a C program built natively and the same program built
# for wasm32-wasi with -msimd128 (on the engine, `theater wasm run`); their
# standard output must be identical.  With WASM2WAT set, the module must
# also contain at least MIN_SIMD distinct SIMD instructions (so that the
# test cannot pass by clang not vectorizing).
#
# Without the wasm module (no wasm32-wasi toolchain) it prints
# "compare.cmake: skipped: ..." (the ctest's SKIP_REGULAR_EXPRESSION: shown
# as skipped, not passed); under THEATER_REQUIRE_SUITES=1 (.ci/run, whose
# machine has the toolchain scripts/setup.sh installs) it fails instead.
#
#   cmake -DNATIVE=exe -DTHEATER=theater -DWASM=x.wasm [-DWASM2WAT=wasm2wat
#         -DMIN_SIMD=N] -P compare.cmake
foreach(v NATIVE THEATER WASM)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "compare.cmake: ${v} not set")
  endif()
endforeach()
if(NOT EXISTS ${WASM})
  if("$ENV{THEATER_REQUIRE_SUITES}" STREQUAL "1")
    message(FATAL_ERROR "${WASM} was not built (no wasm32-wasi toolchain; "
      "THEATER_REQUIRE_SUITES=1: a skip would hide this test)")
  endif()
  message("compare.cmake: skipped: ${WASM} was not built (no wasm32-wasi toolchain)")
  return()
endif()
execute_process(COMMAND ${NATIVE} OUTPUT_VARIABLE native_out RESULT_VARIABLE native_rc)
execute_process(COMMAND ${THEATER} wasm run ${WASM} OUTPUT_VARIABLE wasm_out
                ERROR_VARIABLE wasm_err RESULT_VARIABLE wasm_rc)
if(NOT native_rc EQUAL 0 OR NOT wasm_rc EQUAL 0)
  message(FATAL_ERROR "exit status: native ${native_rc}, wasm ${wasm_rc}: ${wasm_err}")
endif()
if(NOT native_out STREQUAL wasm_out)
  string(REPLACE "\n" ";" nl "${native_out}")
  string(REPLACE "\n" ";" wl "${wasm_out}")
  list(LENGTH nl n)
  set(i 0)
  foreach(line IN LISTS nl)
    list(GET wl ${i} w)
    if(NOT line STREQUAL w)
      message(FATAL_ERROR "outputs differ at line ${i}:\n  native: ${line}\n  wasm:   ${w}")
    endif()
    math(EXPR i "${i} + 1")
  endforeach()
  message(FATAL_ERROR "outputs differ (wasm printed more lines)")
endif()
string(LENGTH "${native_out}" len)
if(DEFINED WASM2WAT AND WASM2WAT)
  execute_process(COMMAND ${WASM2WAT} ${WASM} OUTPUT_VARIABLE wat RESULT_VARIABLE rc)
  string(REGEX MATCHALL "(i8x16|i16x8|i32x4|i64x2|f32x4|f64x2|v128)\\.[a-z0-9_]+" ops "${wat}")
  list(REMOVE_DUPLICATES ops)
  list(LENGTH ops nops)
  if(nops LESS MIN_SIMD)
    message(FATAL_ERROR "${WASM} uses only ${nops} distinct SIMD instructions, expected >= ${MIN_SIMD}")
  endif()
  message("same output (${len} bytes); the module uses ${nops} distinct SIMD instructions")
else()
  message("same output (${len} bytes)")
endif()
