/*
 * outputs_variant.c - outputs.c with one difference (cli/replay_outputs.sh):
 * its "rep N" logs "tick" and then "tock" in round 5 where outputs.c logs
 * "tick" twice (a host call of the same function as the one before it,
 * with an argument of the same length and other bytes).
 */
#define OUTPUTS_VARIANT 1
#include "outputs.c"
