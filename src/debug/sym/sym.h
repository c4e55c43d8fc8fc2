/* sym.h: the symbolizers behind cask__symbolize (one of dw.c and plain.c is built). */
#ifndef CASK_SYM_H
#define CASK_SYM_H

#include "../../internal.h"

size_t cask__sym_dladdr(const void *pc, bool return_address, char *buf, size_t n);

#endif
