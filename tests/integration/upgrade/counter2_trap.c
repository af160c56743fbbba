/* counter2 whose migrate traps (see counter2.c). */
#define MIGRATE_MODE 2
#include "counter2.c"
