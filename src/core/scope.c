/*
 * scope.c: scopes on a task's stack of regions: timeouts (asyncio.timeout), move_on (trio's
 * move_on_after) and shields. An expired scope makes every blocking call inside it return
 * -ECANCELED; a shield hides cancellation from outside it. Closing a scope converts its own
 * expiry (and only its own) into its result.
 */
#define _GNU_SOURCE
#include "../internal.h"

#include <math.h>

static struct cask__timer *timer_of(cask_scope *s) { return (struct cask__timer *)s->timer_; }

static cask_scope *scope_of(struct cask__timer *t)
{
    return (cask_scope *)((char *)t - offsetof(cask_scope, timer_));
}

void cask__scope_expire(cask_scope *s)
{
    if (s->flags_ & CASK__SCOPE_EXPIRED)
        return;
    s->flags_ |= CASK__SCOPE_EXPIRED;
    cask__interrupt(s->task_);
}

static void scope_fire(struct cask__timer *t) { cask__scope_expire(scope_of(t)); }

/* A scope on a compact task's stack is reached by the loop (its deadline timer, the expiry
 * flag, the chain cask__cancelled walks while the task is parked): the real scope is a heap
 * box, and the struct on the stack points to it until it is closed. */
static int open_boxed(cask_task *t, cask_scope *s, uint32_t kind, uint64_t when)
{
    /* (s may hold anything before its first open: only the boxes' back pointers are read) */
    for (const cask_scope *o = t->scope; o; o = o->parent_)
        if ((o->flags_ & CASK__SCOPE_INBOX) && ((const struct cask__scope_box *)o)->handle == s)
            return -EINVAL; /* opened again before it was closed */
    struct cask__scope_box *box = cask__malloc(sizeof *box);
    if (!box)
        return -ENOMEM;
    int rc = cask__scope_open(&box->s, kind, when);
    if (rc) {
        cask__free(box);
        return rc;
    }
    box->s.flags_ |= CASK__SCOPE_INBOX;
    box->handle = s;
    memset(s, 0, sizeof *s);
    s->flags_ = CASK__SCOPE_BOXED;
    s->parent_ = &box->s;
    s->task_ = t;
    return 0;
}

int cask__scope_open(cask_scope *s, uint32_t kind, uint64_t when)
{
    cask_task *t = cask__self();
    if (!s)
        return -EINVAL;
    if (!t)
        return -EPERM;
    if (cask__on_own_stack(t, s))
        return open_boxed(t, s, kind, when);
    for (const cask_scope *o = t->scope; o; o = o->parent_)
        if (o == s)
            return -EINVAL; /* opened again before it was closed */
    memset(s, 0, sizeof *s);
    s->task_ = t;
    s->flags_ = CASK__SCOPE_OPEN | kind;
    s->cancels_at_open_ = t->ncancel;
    timer_of(s)->when = CASK__NEVER;
    if (when != CASK__NEVER && cask__timer_arm(t->loop, timer_of(s), when, scope_fire) != 0)
        return -ENOMEM;
    s->parent_ = t->scope;
    t->scope = s;
    return 0;
}

/* The timer cannot hold a deadline before the clock's zero, and a negative relative one is
 * armed for now: such a deadline is kept as given for cask_scope_deadline (asyncio's when()). */
static void keep_past(cask_scope *s, double when)
{
    s->flags_ |= CASK__SCOPE_PAST;
    s->when_ = when;
}

static int open_rel(cask_scope *s, uint32_t kind, double seconds)
{
    cask_loop *l = cask__loop;
    if (isnan(seconds))
        return -EINVAL;
    if (!l)
        return -EPERM;
    int rc = cask__scope_open(
        s, kind, isinf(seconds) && seconds > 0 ? CASK__NEVER : cask__deadline_ns(l, seconds));
    if (rc == 0 && seconds < 0)
        keep_past(cask__scope_real(s), cask__ns_to_seconds(cask__loop_now(l)) + seconds);
    return rc;
}

static int open_abs(cask_scope *s, uint32_t kind, double when)
{
    if (isnan(when))
        return -EINVAL;
    int rc = cask__scope_open(s, kind, cask__abs_to_ns(when));
    if (rc == 0 && when < 0)
        keep_past(cask__scope_real(s), when);
    return rc;
}

int cask_timeout_open(cask_scope *s, double seconds)
{
    return open_rel(s, CASK__SCOPE_TIMEOUT, seconds);
}
int cask_timeout_open_at(cask_scope *s, double when)
{
    return open_abs(s, CASK__SCOPE_TIMEOUT, when);
}
int cask_move_on_open(cask_scope *s, double seconds)
{
    return open_rel(s, CASK__SCOPE_MOVE_ON, seconds);
}
int cask_move_on_open_at(cask_scope *s, double when)
{
    return open_abs(s, CASK__SCOPE_MOVE_ON, when);
}
int cask_shield_open(cask_scope *s) { return cask__scope_open(s, CASK__SCOPE_SHIELD, CASK__NEVER); }

static int scope_close(cask_task *t, cask_scope *s, int status);

int cask_scope_close(cask_scope *s, int status)
{
    cask_task *t = cask__self();
    if (s && (s->flags_ & CASK__SCOPE_BOXED)) {
        cask_scope *box = s->parent_;
        if (!t || s->task_ != t || t->scope != box)
            return -EINVAL;
        int rc = scope_close(t, box, status);
        *s = *box; /* closed: what the deadline and expiry queries read, back in place */
        s->flags_ &= ~(uint32_t)CASK__SCOPE_INBOX;
        cask__free(box);
        return rc;
    }
    return scope_close(t, s, status);
}

static int scope_close(cask_task *t, cask_scope *s, int status)
{
    if (!s || !t || t->scope != s || !(s->flags_ & CASK__SCOPE_OPEN) || s->task_ != t)
        return -EINVAL;
    cask__timer_disarm(t->loop, timer_of(s));
    t->scope = s->parent_;
    s->flags_ = (s->flags_ & ~(uint32_t)CASK__SCOPE_OPEN) | CASK__SCOPE_CLOSED;
    if ((s->flags_ & CASK__SCOPE_EXPIRED) && status == -ECANCELED) {
        if (cask__cancelled(t)) /* cancelled from outside as well: that passes through */
            return -ECANCELED;
        if (s->flags_ & CASK__SCOPE_TIMEOUT)
            return -ETIMEDOUT;
        if (s->flags_ & CASK__SCOPE_MOVE_ON)
            return 0;
    }
    return status;
}

int cask_scope_reschedule(cask_scope *s, double when)
{
    s = cask__scope_real(s);
    if (!s || !(s->flags_ & CASK__SCOPE_OPEN) || isnan(when))
        return -EINVAL;
    cask_loop *l = s->task_->loop;
    cask__timer_disarm(l, timer_of(s));
    s->flags_ &= ~(uint32_t)CASK__SCOPE_PAST;
    if (when < 0)
        keep_past(s, when);
    uint64_t w = cask__abs_to_ns(when);
    timer_of(s)->when = w;
    if (w != CASK__NEVER && !(s->flags_ & CASK__SCOPE_EXPIRED) &&
        cask__timer_arm(l, timer_of(s), w, scope_fire) != 0) {
        timer_of(s)->when = CASK__NEVER; /* what cask_scope_deadline reports: none */
        s->flags_ &= ~(uint32_t)CASK__SCOPE_PAST;
        return -ENOMEM;
    }
    return 0;
}

double cask_scope_deadline(const cask_scope *s)
{
    s = cask__scope_real((cask_scope *)s);
    if (!s)
        return NAN;
    if (s->flags_ & CASK__SCOPE_PAST)
        return s->when_;
    uint64_t w = ((const struct cask__timer *)s->timer_)->when;
    return w == CASK__NEVER ? INFINITY : cask__ns_to_seconds(w);
}

bool cask_scope_expired(const cask_scope *s)
{
    s = cask__scope_real((cask_scope *)s);
    return s && (s->flags_ & CASK__SCOPE_EXPIRED);
}

int cask_scope_cancel(cask_scope *s)
{
    s = cask__scope_real(s);
    if (!s || !(s->flags_ & CASK__SCOPE_OPEN))
        return -EINVAL;
    cask__timer_disarm(s->task_->loop, timer_of(s));
    cask__scope_expire(s);
    return 0;
}
