// cxx_header.cc: cask.h compiles as C++ (extern "C", static initializers) and links; CI builds
// and runs it with g++ -Werror.
#include "cask.h"

static cask_lock lock = CASK_LOCK_INIT;
static cask_event event = CASK_EVENT_INIT;

static int amain(void *arg)
{
    int *n = static_cast<int *>(arg);
    if (cask_lock_acquire(&lock) != 0)
        return -1;
    cask_event_set(&event);
    if (cask_event_wait(&event) != 0 || cask_sleep(0.001) != 0)
        return -1;
    cask_lock_release(&lock);
    return ++*n;
}

int main()
{
    int n = 41;
    return cask_run(amain, &n) == 42 ? 0 : 1;
}
