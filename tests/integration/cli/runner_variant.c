/*
 * runner_variant.c - the runner example with its stdout lines logged as
 * "[PID] out: LINE" instead of "[PID] stdout: LINE": replay_inbound.sh
 * replays the runner's record against it, which must diverge at the log
 * call of the first stdout line (an inbound event of the process handler).
 */
#define RUNNER_STDOUT_LABEL "out"
#include "../../../examples/actors/runner/actor.c"
