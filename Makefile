# cask: one GNU Makefile, no configure step.
#   make            libcask.a, libcask.so, cask.pc under $(B)
#   make test       the whole suite (unit tests, examples compared with the expected output)
#   make run        the showcase: every example in order
#   make bench      the benchmarks, side by side with the peers
#   make install PREFIX=/usr/local DESTDIR=
# Variants: SAN=address,undefined or SAN=thread (sanitizers), CC=aarch64-linux-gnu-gcc (cross).
# Optional: liburing (io_uring backend), used when $(CC) finds its header and library; URING=0
# builds without it (the loop then runs on epoll and files on the thread pool).

CC ?= cc
AR ?= ar
PREFIX ?= /usr/local
SAN ?=
WERROR ?= -Werror
OPT ?= -O2
RUNNER ?=

empty :=
comma := ,
TRIPLE := $(shell $(CC) -dumpmachine 2>/dev/null)
# Diagnostics symbolize with libdw (function, file:line; opened with dlopen at run time, so
# nothing more to link) when the compiler finds its header; DW=0 forces the libc-only
# fallback (dladdr), built apart under build/<triple>-nodw.
DW ?= $(shell printf '\043include <elfutils/libdwfl.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1 || echo 0)
VARIANT := $(TRIPLE)$(if $(SAN),-$(subst $(comma),-,$(SAN)))$(if $(filter command line,$(origin DW)),$(if $(filter 1,$(DW)),,-nodw))
B ?= build/$(VARIANT)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 $(WERROR)
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-sanitize-recover=all)
CFLAGS ?= $(OPT) -g
# frame pointers: task backtraces walk them (docs/diagnostics.md)
ALL_CFLAGS := -std=c11 -fPIC -pthread -fno-omit-frame-pointer $(WARN) $(SANFLAGS) -Iinclude -MMD -MP $(CFLAGS)
DW_LIBS := -ldl
LDLIBS := -pthread -lm $(DW_LIBS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)

# liburing: tried with the compiler itself, so a cross build without the target's liburing
# leaves it out; the build variant's directory says which way it was built
ifndef URING
URING := $(shell printf '\043include <liburing.h>\nint main(void){struct io_uring r;return io_uring_queue_init(1,&r,0);}\n' | \
           $(CC) -x c - -o /dev/null -luring >/dev/null 2>&1 && echo 1 || echo 0)
endif
ifeq ($(URING),1)
ALL_CFLAGS += -DCASK_HAVE_URING=1
LDLIBS += -luring
URING_PC := -luring
else
B := $(B)-nouring
endif

SRC := $(filter-out $(if $(filter 1,$(URING)),,src/poll/uring.c),$(sort $(wildcard src/*/*.c))) \
       src/debug/sym/dladdr.c src/debug/sym/$(if $(filter 1,$(DW)),dw,plain).c
ASM := $(sort $(wildcard src/ctx/*.S))
OBJ := $(SRC:%.c=$(B)/%.o) $(ASM:%.S=$(B)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c tests/internal/test_*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o) $(B)/tests/runner.o
EXAMPLES := $(sort $(wildcard examples/[0-9]*.c))
EXAMPLE_BIN := $(EXAMPLES:examples/%.c=$(B)/examples/%)
BENCH_SRC := $(sort $(wildcard bench/cask_*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=build/bench/%)

.PHONY: all lib test test-compact unit examples run bench install clean format-check
all: lib
lib: $(B)/libcask.a $(B)/libcask.so $(B)/cask.pc

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libcask.a: $(OBJ)
	rm -f $@
	$(AR) rcs $@ $^
$(B)/libcask.so: $(OBJ)
	$(CC) -shared -Wl,-soname,libcask.so.0 -Wl,-z,noexecstack $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/cask.pc: cask.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' -e 's|@LIBS@|$(DW_LIBS) $(URING_PC)|' $< > $@

$(B)/tests/run: $(TEST_OBJ) $(B)/libcask.a
	$(CC) $(ALL_LDFLAGS) -rdynamic -o $@ $(TEST_OBJ) $(B)/libcask.a $(LDLIBS)
$(B)/tests/internal/%.o: ALL_CFLAGS += -Isrc
$(B)/examples/%: examples/%.c $(B)/libcask.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -rdynamic -o $@ $< $(B)/libcask.a $(ALL_LDFLAGS) $(LDLIBS)
examples: $(EXAMPLE_BIN)

unit: $(B)/tests/run
	CASK_RUNNER="$(RUNNER)" $(RUNNER) $(B)/tests/run $(T)

test: $(B)/tests/run $(EXAMPLE_BIN)
	python3 tools/gen_errors.py --check
	CASK_RUNNER="$(RUNNER)" $(RUNNER) $(B)/tests/run
	python3 tests/check_examples.py --bin $(B)/examples --expected examples/expected $(if $(RUNNER),--runner "$(RUNNER)") $(if $(SAN),--exit-slack 0.35)
	$(if $(RUNNER),,bash tests/check_static_server.sh $(B))
	$(if $(RUNNER),,bash tests/check_gdb.sh $(B))
	$(if $(RUNNER),,python3 tests/check_chat_tree.py $(B))

# The examples again with every task but main compact (CASK_COMPACT=1): they must print the
# same. Skipped: the two that hand pointers into a task's stack to other tasks (a member record
# in a chat room list, a scope cancelled by a supervisor), which compact tasks forbid.
COMPACT_SKIP := 44_chat 61_supervisor
test-compact: $(EXAMPLE_BIN)
	CASK_COMPACT=1 python3 tests/check_examples.py --bin $(B)/examples --expected examples/expected $(if $(RUNNER),--runner "$(RUNNER)") $(filter-out $(COMPACT_SKIP),$(EXAMPLES:examples/%.c=%))

run: $(EXAMPLE_BIN)
	@python3 tests/check_examples.py --bin $(B)/examples --showcase

build/bench/cask_%: bench/cask_%.c $(B)/libcask.a
	@mkdir -p build/bench
	$(CC) -std=c11 -O2 -g -pthread $(WARN) -Iinclude -o $@ $< $(B)/libcask.a $(LDLIBS)
bench: $(BENCH_BIN)
	bash bench/run.sh $(BENCH_ARGS)

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/cask/gdb $(DESTDIR)$(PREFIX)/share/gdb/auto-load$(PREFIX)/lib
	install -m 644 tools/gdb/cask.py $(DESTDIR)$(PREFIX)/share/cask/gdb/
	install -m 644 tools/gdb/cask.py $(DESTDIR)$(PREFIX)/share/gdb/auto-load$(PREFIX)/lib/libcask.so.0-gdb.py
	install -m 644 include/cask.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(B)/libcask.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/libcask.so $(DESTDIR)$(PREFIX)/lib/libcask.so.0
	ln -sf libcask.so.0 $(DESTDIR)$(PREFIX)/lib/libcask.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' -e 's|@LIBS@|$(DW_LIBS) $(URING_PC)|' cask.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cask.pc

format-check:
	clang-format --dry-run --Werror include/cask.h $(SRC)

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(TEST_OBJ:.o=.d)
