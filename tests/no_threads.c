/*
 * no_threads.c - libth_no_threads.so, preloaded (LD_PRELOAD) into every
 * test labelled `single-thread` in a build without sanitizers
 * (cmake/tests.cmake).  The TSan run skips those tests; should one
 * start a thread after all (its code under test gained one, or the label
 * was wrong), this pthread_create ends the process with a message saying
 * so, and the test fails in the normal run instead of going unseen by
 * TSan.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static const char msg[] =
        "no_threads: a test labelled single-thread started a thread (pthread_create), so TSan "
        "would never run it: label it by what it runs (cmake/tests.cmake)\n";

    (void)thread, (void)attr, (void)fn, (void)arg;
    if (write(STDERR_FILENO, msg, strlen(msg)) < 0) {
        /* nothing more to say */
    }
    _exit(70);
}
