/*
 * limits.h - named limits on untrusted input and tunable defaults, for every
 * part of the project (the one place such numbers live; wasm3's
 * d_m3MaxSane*, Lua's luaconf.h).  Each part adds its own section.
 */
#ifndef THEATER_BASE_LIMITS_H
#define THEATER_BASE_LIMITS_H

/* ---- WebAssembly engine: decoder and validator ---- */
#define TH_WASM_MAX_MODULE_BYTES (1024u * 1024u * 1024u) /* 1 GiB binary */
#define TH_WASM_MAX_TYPES 1000000u
#define TH_WASM_MAX_FUNCS 1000000u
#define TH_WASM_MAX_IMPORTS 100000u
#define TH_WASM_MAX_EXPORTS 100000u
#define TH_WASM_MAX_GLOBALS 1000000u
#define TH_WASM_MAX_TABLES 100000u
#define TH_WASM_MAX_MEMORIES 1u /* WebAssembly 2.0: at most one memory */
#define TH_WASM_MAX_SEGMENTS 100000u
#define TH_WASM_MAX_PARAMS 1000u
#define TH_WASM_MAX_RESULTS 1000u
#define TH_WASM_MAX_LOCALS 50000u     /* params + locals of one function */
#define TH_WASM_MAX_FUNC_BYTES (8u * 1024u * 1024u)
#define TH_WASM_MAX_NAME_BYTES 100000u
#define TH_WASM_MAX_BLOCK_DEPTH 100000u
#define TH_WASM_MAX_BR_TABLE 100000u
#define TH_WASM_MAX_TABLE_ELEMS 10000000u /* table entries */

/* ---- WebAssembly engine: execution defaults ---- */
#define TH_WASM_DEFAULT_STACK_BYTES (1024u * 1024u)
#define TH_WASM_DEFAULT_CALL_DEPTH 10000u

#endif
