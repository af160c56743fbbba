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
#define TH_WASM_MAX_LOCALS 50000u /* params + locals of one function */
#define TH_WASM_MAX_FUNC_BYTES (8u * 1024u * 1024u)
#define TH_WASM_MAX_NAME_BYTES 100000u
#define TH_WASM_MAX_BLOCK_DEPTH 100000u
#define TH_WASM_MAX_BR_TABLE 100000u
#define TH_WASM_MAX_TABLE_ELEMS 10000000u /* table entries */

/* ---- WebAssembly engine: execution defaults ---- */
/* wasm stack (value slots + frame records) of one execution: grown on
 * demand up to this; 8 MiB is >= 100,000 frames of a small function */
#define TH_WASM_DEFAULT_STACK_BYTES (8u * 1024u * 1024u)
#define TH_WASM_MIN_STACK_BYTES 4096u
/* th_wasm_call_invoke nesting (host -> wasm -> host -> ...): each level
 * uses the C stack, so it is bounded well below any thread's stack. */
#define TH_WASM_MAX_NESTED_CALLS 128u

/* ---- TOML parser (src/base/toml.c) ---- */
#define TH_TOML_MAX_INPUT_BYTES (16u * 1024u * 1024u) /* one document */
#define TH_TOML_MAX_DEPTH 128u /* nested tables/arrays, dotted keys included */

/* ---- Actor manifests (src/runtime/manifest.c) ---- */
#define TH_MANIFEST_MAX_BYTES (1024u * 1024u) /* manifest file or text */
#define TH_MANIFEST_MAX_NAME_BYTES 256u       /* name, version */
#define TH_MANIFEST_MAX_PATH_BYTES 4096u      /* component, paths after ${} */
#define TH_MANIFEST_MAX_ALLOWED_VARS 1024u    /* environment allow-list */
#define TH_MANIFEST_MAX_LIST 1024u            /* allowed_hosts, programs, paths */
/* http-client grants (src/handlers/http_client.c). */
#define TH_HTTP_DEFAULT_TIMEOUT_MS 30000u
#define TH_HTTP_MAX_TIMEOUT_MS (3600u * 1000u)
#define TH_HTTP_DEFAULT_MAX_RESPONSE (16ull * 1024u * 1024u)
/* (at most 256 MiB: recorded as hex, an answer must fit one chain event,
 * TH_CHAIN_MAX_CONTENT_BYTES) */
#define TH_HTTP_MAX_MAX_RESPONSE (256ull * 1024u * 1024u)
#define TH_HTTP_MAX_URL_BYTES 65536u    /* a request's uri */
#define TH_HTTP_MAX_HEADERS 256u        /* headers of a request or response */
#define TH_HTTP_MAX_HEADER_BYTES 65536u /* headers of a response, together */
/* process grants (src/handlers/process.c). */
#define TH_PROC_DEFAULT_MAX_PROCESSES 16u
#define TH_PROC_MAX_MAX_PROCESSES 4096u
#define TH_PROC_DEFAULT_MAX_OUTPUT (1024ull * 1024u)
#define TH_PROC_MAX_MAX_OUTPUT (256ull * 1024u * 1024u) /* (one event: as above) */
#define TH_PROC_MAX_ARGS 4096u                          /* args and env entries of a config */
#define TH_PROC_KILL_GRACE_MS 2000u                     /* SIGTERM, then SIGKILL after this */
#define TH_PROC_DEFAULT_CHUNK 4096u                     /* chunked mode, raw read size */
#define TH_PROC_MAX_EXITED 64u                          /* ended processes os-status remembers */
/* [limits] defaults and the largest values accepted. */
#define TH_MANIFEST_DEFAULT_FUEL_PER_CALL 1000000000ull /* instructions */
#define TH_MANIFEST_DEFAULT_MEMORY_BYTES (64ull * 1024u * 1024u)
#define TH_MANIFEST_MAX_MEMORY_BYTES (4ull * 1024u * 1024u * 1024u) /* wasm32 */
#define TH_MANIFEST_DEFAULT_CALL_TIMEOUT_MS 30000u
#define TH_MANIFEST_MAX_STACK_BYTES (1024ull * 1024u * 1024u) /* wasm stack of one call */
#define TH_MANIFEST_MAX_CALL_TIMEOUT_MS (24u * 3600u * 1000u) /* one day */
/* Counts that keep a runaway actor from taking the host: its children, its
 * descendants (at any depth), its mailbox, what it may add to the store.
 * A child's are at most its parent's (src/runtime/attenuate.c). */
#define TH_MANIFEST_DEFAULT_MAX_CHILDREN 1000u
#define TH_MANIFEST_MAX_CHILDREN 1000000u
#define TH_MANIFEST_DEFAULT_MAX_DESCENDANTS 1000u
#define TH_MANIFEST_MAX_DESCENDANTS 10000000u
#define TH_MANIFEST_DEFAULT_MAILBOX_MESSAGES 10000u
#define TH_MANIFEST_MAX_MAILBOX_MESSAGES 1000000u
#define TH_MANIFEST_DEFAULT_MAILBOX_BYTES (16ull * 1024u * 1024u)
#define TH_MANIFEST_MIN_MAILBOX_BYTES 4096u
#define TH_MANIFEST_MAX_MAILBOX_BYTES (1024ull * 1024u * 1024u)
#define TH_MANIFEST_DEFAULT_STORE_BYTES (256ull * 1024u * 1024u)
#define TH_MANIFEST_MAX_STORE_BYTES (1ull << 40)
/* http-framework grant (src/runtime/manifest.c, src/handlers/http_*.c). */
#define TH_HTTPD_MAX_PORT_RANGES 1024u                    /* allowed_ports entries */
#define TH_HTTPD_DEFAULT_MAX_BODY (16ull * 1024u * 1024u) /* request body */
#define TH_HTTPD_MAX_BODY_BYTES (1024ull * 1024u * 1024u) /* largest grant */
#define TH_HTTPD_DEFAULT_MAX_CONNECTIONS 1024u            /* per server */
#define TH_HTTPD_MAX_CONNECTIONS 65536u
#define TH_HTTPD_DEFAULT_MAX_QUEUED 1024u /* requests waiting for the actor */
#define TH_HTTPD_MAX_QUEUED 1000000u
#define TH_HTTPD_DEFAULT_TIMEOUT_MS 30000u              /* for the actor's answer */
#define TH_HTTPD_MAX_SERVERS 64u                        /* servers of one actor */
#define TH_HTTPD_MAX_ROUTES 4096u                       /* routes + middleware of one actor */
#define TH_HTTPD_MAX_WS_MESSAGE (16ull * 1024u * 1024u) /* inbound WebSocket message */
/* a stopped server's WebSocket connection: its close handshake (after the
 * close frame) within this, else it is shut down */
#define TH_HTTPD_WS_CLOSE_WAIT_MS 1000u
/* [supervision] defaults: Erlang/OTP's restart intensity (1 in 5 s). */
#define TH_MANIFEST_DEFAULT_MAX_RESTARTS 1u
#define TH_MANIFEST_DEFAULT_WITHIN_SECONDS 5u

/* ---- WASI preview1 (src/wasm/wasi.c) ---- */
#define TH_WASI_MAX_FDS 1024u                  /* open guest descriptors */
#define TH_WASI_MAX_PATH 4096u                 /* bytes of one guest path */
#define TH_WASI_MAX_PATH_DEPTH 256u            /* directories open while resolving */
#define TH_WASI_MAX_SYMLINKS 32u               /* symlinks expanded in one lookup */
#define TH_WASI_MAX_IOVS 1024u                 /* iovecs used per read/write call */
#define TH_WASI_MAX_SUBSCRIPTIONS 4096u        /* poll_oneoff subscriptions */
#define TH_WASI_MAX_ARGS_BYTES (1024u * 1024u) /* args or environment, total */

/* ---- Store and event chain (src/store, src/chain) ---- */
#define TH_STORE_DEFAULT_MAX_BLOB (64u * 1024u * 1024u) /* bytes per blob */
#define TH_STORE_MAX_BLOB_LIMIT (1024u * 1024u * 1024u) /* highest allowed setting */
#define TH_STORE_MAX_LABEL_BYTES 4096u                  /* one label name */
#define TH_STORE_BUSY_TIMEOUT_MS 10000                  /* wait for another writer */
#define TH_CHAIN_MAX_ACTOR_BYTES 1024u                  /* one actor id */
#define TH_CHAIN_MAX_TYPE_BYTES 1024u                   /* one event type */
#define TH_CHAIN_MAX_DESC_BYTES (64u * 1024u)           /* one description */
#define TH_CHAIN_MAX_DATA_BYTES (64u * 1024u * 1024u)   /* one event's data, inline */
/* Larger data is recorded by content reference (bytes in the store, hash in
 * the event), up to this (below SQLite's default 1e9-byte value limit). */
#define TH_CHAIN_MAX_CONTENT_BYTES (900ull * 1024u * 1024u)
/* a batch's events, about (one event at least) */
#define TH_CHAIN_MAX_SEGMENT_BYTES (64u * 1024u * 1024u)
/* an append waits this long for room in a full queue behind a stalled writer */
#define TH_CHAIN_APPEND_STALL_MS 30000u
/* at close, a writer that cannot store events retries this long, then fails */
#define TH_CHAIN_CLOSE_RETRY_MS 5000u
#define TH_CHAIN_DEFAULT_BATCH_EVENTS 8192u             /* events per transaction, at most */
#define TH_CHAIN_DEFAULT_BATCH_MS 1u                    /* longest wait before a commit starts */
#define TH_CHAIN_MAX_QUEUE_BYTES (256u * 1024u * 1024u) /* appends not yet durable */
#define TH_CHAIN_MAX_JSONL_LINE (96u * 1024u * 1024u)   /* one line of an export */
#define TH_CHAIN_MAX_MERKLE_DEPTH 64u                   /* path length in a signed head */

/* ---- Actor runtime (src/runtime, src/handlers) ---- */
#define TH_RT_TURN_BUDGET 64u   /* operations or fuel slices per turn */
#define TH_RT_TURN_SLICE_MS 10u /* wall time of one turn, at most (about) */
/* a preempted actor waiting longer is served ahead of woken ones */
#define TH_RT_PREEMPT_WAIT_MS 50u
#define TH_RT_FUEL_SLICE 200000u /* fuel before an operation is preempted */
/* one-way messages a sender posts between looks at its receiver's backlog
 * (send.c: pacing) */
#define TH_RT_SEND_PACE 32u
#define TH_RT_REALLOC_FUEL 1000000u /* fuel of one host-made cabi_realloc call */
/* events not yet appended; above it, recording actors wait */
#define TH_RT_RECORD_QUEUE_BYTES (64u * 1024u * 1024u)
/* default wait of an actor for a stalled chain writer before its call fails */
#define TH_RT_RECORD_STALL_MS 30000u
/* events kept per actor with save_chain = false; oldest dropped */
#define TH_RT_MEMORY_CHAIN_BYTES (16u * 1024u * 1024u)
/* Idle actors' memory (runtime/pack.c): packed after this long idle
 * (th_runtime_config.pack_idle_ms), if at most this much is resident. */
#define TH_RT_PACK_IDLE_MS 1000u
#define TH_RT_PACK_MAX_BYTES (64u * 1024u)
#define TH_RT_DEFAULT_MAX_ACTORS 1000000u /* live actors in one runtime (th_runtime_config) */
/* store bytes charged per new store or label, besides the content and the label's name */
#define TH_RT_STORE_ENTRY_BYTES 64u
/* The runtime stopping: how long its I/O thread waits for what its handlers
 * end gracefully (WebSocket close handshakes) before it closes the rest; a
 * little above TH_HTTPD_WS_CLOSE_WAIT_MS, after which the http-framework
 * handler ends the handshakes that have not finished by itself (a client
 * that never answers), so that this is the backstop, not the rule */
#define TH_RT_IO_QUIT_WAIT_MS (TH_HTTPD_WS_CLOSE_WAIT_MS + 200u)
#define TH_RT_MAX_EXITS 4096u             /* ends of root actors kept for late waiters */
#define TH_RT_EXITS_MAX_BYTES (16u << 20) /* ... holding at most this much data and backtraces */
#define TH_RT_RANDOM_MAX_BYTES (1024u * 1024u)           /* random-bytes per call */
#define TH_RT_FS_MAX_FILE (64u * 1024u * 1024u)          /* filesystem read-file */
#define TH_RT_MAX_INIT_STATE_BYTES (64u * 1024u * 1024u) /* an initial state read from a file */

/* ---- CLI (src/cli) ---- */
/* Any file the CLI reads whole (the largest limit of what it reads: a wasm
 * module); each use passes its own, smaller limit where one applies. */
#define TH_CLI_MAX_FILE_BYTES TH_WASM_MAX_MODULE_BYTES
/* An event recorded by content reference (its data above
 * TH_CHAIN_MAX_DATA_BYTES, in the home's store) is shown from its content
 * up to this size; above it (parsing takes a few times its size in
 * memory), described in words. */
#define TH_CLI_MAX_EVENT_CONTENT_BYTES (256u * 1024u * 1024u)

/* ---- Management server (src/server) ---- */
#define TH_SERVER_MAX_BODY_BYTES (16u * 1024u * 1024u) /* request body; above: 413 */
#define TH_SERVER_MAX_HEADER_BYTES (8u * 1024u)        /* request line + headers; above: 431 */
#define TH_SERVER_MAX_CONNECTIONS 1024u                /* open connections per listener */
#define TH_SERVER_MAX_TCP_PER_IP 64u                   /* TCP connections from one address */
/* libmicrohttpd's memory per connection (MHD_OPTION_CONNECTION_MEMORY_LIMIT,
 * 16 KiB), which the request line and headers must fit in: a request above
 * TH_SERVER_MAX_HEADER_BYTES but within this gets the server's JSON 431 (or
 * 414); beyond it libmicrohttpd answers 431/414 itself, with a body of its
 * own.  A connection that has served a request keeps all of it resident
 * while it stays open, idle or not (libmicrohttpd 0.9.75 zeroes the whole
 * of it after each request, touching every page; it can neither grow it on
 * demand nor give it back), so this is what an idle keep-alive connection
 * holds (tests/integration/daemon idle_memory), and this times
 * TH_SERVER_MAX_CONNECTIONS bounds that memory.  Half of it is the read
 * buffer a request's body comes through. */
#define TH_SERVER_CONN_MEMORY_BYTES (2u * TH_SERVER_MAX_HEADER_BYTES)
/* idle connection, and longest time a request may take to arrive (slowloris) */
#define TH_SERVER_CLIENT_TIMEOUT_S 30u
#define TH_SERVER_REQUEST_TIMEOUT_MS 30000u              /* default wait of POST .../requests */
#define TH_SERVER_MAX_REQUEST_TIMEOUT_MS (3600u * 1000u) /* largest ?timeout_ms= */
/* unsent SSE bytes per client; beyond: event overflow, disconnect */
#define TH_SERVER_STREAM_BUFFER_BYTES (1024u * 1024u)
#define TH_SERVER_STREAM_PAGE 256u    /* stored events read per step */
#define TH_SERVER_KEEPALIVE_MS 15000u /* SSE comment line when idle */
/* shutdown: how long the streams may take to send their last events */
#define TH_SERVER_STREAM_DRAIN_MS 5000u
#define TH_SERVER_CHANNEL_HISTORY_BYTES (1024u * 1024u) /* messages kept per channel */
#define TH_SERVER_MAX_CHANNELS 4096u                    /* channels opened from outside */
#define TH_SERVER_MAX_LIST_LIMIT 100000u                /* ?limit= of an event list */
#define TH_SERVER_JOB_THREADS 2u                        /* threads for spawn/stop (may block) */

/* The compatibility listener (src/server/compat.c): the original's TCP
 * management protocol. */
#define TH_COMPAT_MAX_FRAME_BYTES (32u * 1024u * 1024u)   /* as the original's codec */
#define TH_COMPAT_MAX_MESSAGE_BYTES (32u * 1024u * 1024u) /* a reassembled message */
#define TH_COMPAT_MAX_PARTIALS 8u     /* fragmented messages in flight per client */
#define TH_COMPAT_MAX_FRAGMENTS 64u   /* fragments of one message */
#define TH_COMPAT_MAX_CONNECTIONS 64u /* clients at once */
/* unsent replies and events per client */
#define TH_COMPAT_MAX_QUEUED_BYTES (64u * 1024u * 1024u)
#define TH_COMPAT_REQUEST_TIMEOUT_MS 60000u /* RequestActorMessage, OpenChannel */
#define TH_COMPAT_FRAME_TIMEOUT_S 30u       /* a frame begun must go on arriving within this */

#endif
