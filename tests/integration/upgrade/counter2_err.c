/* counter2 whose migrate returns an error (see counter2.c). */
#define MIGRATE_MODE 1
#include "counter2.c"
