/*
 * notes_variant.c - the notes example echoing WebSocket texts as
 * "ECHO: TEXT" instead of "echo: TEXT": replay_http.sh replays the notes
 * actor's record against it, which must diverge at the first
 * handle-websocket-message (the replies differ, the state does not).
 */
#define NOTES_ECHO_PREFIX "ECHO: "
#include "../../../examples/actors/notes/actor.c"
