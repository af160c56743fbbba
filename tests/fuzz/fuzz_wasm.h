/*
 * fuzz_wasm.h - the WebAssembly engine's fuzz harness, shared by the
 * libFuzzer target (fuzz_main.c) and the corpus replay test (replay.c).
 */
#ifndef THEATER_FUZZ_WASM_H
#define THEATER_FUZZ_WASM_H

#include <stddef.h>
#include <stdint.h>

/* Run one input through the engine: decode, validate and translate it;
 * if that works, instantiate it with stub imports (host functions that
 * trap, fresh tables, memories and globals of the imported types) and call
 * every exported function with zero arguments and a small fuel budget.
 * Returns 1 if the module loaded, 0 if it was rejected.  Anything else
 * (a crash, a sanitizer report, a leak) is a bug in the engine. */
int fuzz_wasm_one(const uint8_t *data, size_t size);

#endif
