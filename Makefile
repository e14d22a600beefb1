# dsck - build, test, fuzz, install.
#
#   make                 libdsck.a and the tools in build/bin/
#   make test            the whole suite: plain build, then ASan+UBSan build
#   make test-plain      plain build only (fast inner loop)
#   make test-asan       ASan+UBSan build only
#   make deps            install the Debian packages and Python oracles (root)
#   make demo            synth tiny -> inspect -> verify
#   make fuzz            libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make install PREFIX=/usr/local
#   make clean

.DEFAULT_GOAL := all
PREFIX   ?= /usr/local
B        ?= build
CC       ?= cc
VERSION  := 0.1.0

WARN     := -std=c11 -Wall -Wextra -Werror -Wvla -Wshadow -Wformat=2 \
            -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
             -DDSCK_VERSION='"$(VERSION)"' -pthread -Ilib -Ikernels -Iruntime
LDLIBS   := -lcjson -lcrypto -lz -lpcre2-8 -lopenblas -lm -pthread
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# runtime/main.c and comm_mpi.c are dsck-run; the rest of runtime/ is
# library code (the other tools never link MPI).
RUN_ONLY := runtime/main.c runtime/comm_mpi.c
LIB_SRC  := $(sort $(wildcard lib/*.c kernels/*.c) $(filter-out $(RUN_ONLY),$(wildcard runtime/*.c)))
# OpenMPI for dsck-run's ranks when mpicc is there (make deps installs it)
MPICC    := $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPICC),)
MPI_CFLAGS := -DDSCK_HAVE_MPI $(shell mpicc --showme:compile)
MPI_LIBS   := $(shell mpicc --showme:link)
endif
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
LIB_A    := $(B)/libdsck.a
HDRS     := $(wildcard lib/*.h kernels/*.h runtime/*.h)

TOOLS    := inspect verify synth convert shard
TOOL_BIN := $(TOOLS:%=$(B)/bin/dsck-%)
ifneq ($(wildcard runtime/main.c),)
TOOL_BIN += $(B)/bin/dsck-run
endif

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
MAL_SRC  := $(sort $(wildcard tests/malformed/*.c))
MAL_BIN  := $(B)/tests/malformed-corpus
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all test test-plain test-asan demo deps fuzz install clean tests-bin

# Debian packages: compiler, cJSON, OpenSSL (SHA-256), clang for libFuzzer.
DEB_PKGS := build-essential clang libcjson-dev libssl-dev zlib1g-dev libpcre2-dev libopenblas-dev \
            libopenmpi-dev openmpi-bin python3 python3-pip
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null
	python3 -m pip install -q -r tests/oracle/requirements.txt 2>/dev/null || \
		python3 -m pip install -q --break-system-packages -r tests/oracle/requirements.txt
all: $(LIB_A) $(TOOL_BIN)

$(B)/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/runtime/comm_mpi.o: runtime/comm_mpi.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(MPI_CFLAGS) -c -o $@ $<

$(B)/bin/dsck-run: $(B)/runtime/main.o $(B)/runtime/comm_mpi.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) $(MPI_LIBS)

# A tool is every .c file in its folder, linked against libdsck.
.SECONDEXPANSION:
$(B)/bin/dsck-%: $$(patsubst %.c,$(B)/%.o,$$(wildcard $$*/*.c)) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/test_%: tests/unit/test_%.c tests/test.h tests/unit/fixtures.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

$(MAL_BIN): $(MAL_SRC) tests/malformed/corpus.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(MAL_SRC) $(LIB_A) $(LDLIBS)

# Oracle helpers: small programs the Python oracles drive.
$(B)/tests/st-rewrite: tests/oracle/st_rewrite.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

tests-bin: all $(UNIT_BIN) $(MAL_BIN) $(B)/tests/st-rewrite

test-plain:
	@$(MAKE) --no-print-directory B=build tests-bin >/dev/null
	@tests/run.sh build plain

test-asan:
	@$(MAKE) --no-print-directory B=build-asan CFLAGS="-O1 -g" \
		EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" tests-bin >/dev/null
	@tests/run.sh build-asan asan

# The README's test command: both suites, one closing count.
test:
	@$(MAKE) --no-print-directory B=build tests-bin >/dev/null
	@$(MAKE) --no-print-directory B=build-asan CFLAGS="-O1 -g" \
		EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)" tests-bin >/dev/null
	@tests/run.sh build plain build-asan asan

demo: all
	@tests/demo.sh build

FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
fuzz:
	@mkdir -p build-fuzz
	@for src in $(FUZZ_SRC); do \
		name=$$(basename $$src .c); \
		$(FUZZ_CC) -std=c11 -g -O1 -D_GNU_SOURCE -Ilib -Ikernels -Iruntime -fsanitize=fuzzer,address,undefined \
			-o build-fuzz/$$name $$src $(LIB_SRC) $(LDLIBS) || exit 1; \
	done
	@for src in $(FUZZ_SRC); do \
		name=$$(basename $$src .c); mkdir -p build-fuzz/corpus-$$name; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		build-fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build-fuzz/corpus-$$name tests/fuzz/seeds/$$name 2>&1 | \
			grep -E "stat::number_of_executed_units|ERROR|SUMMARY" ; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/dsck
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(filter-out %_int.h,$(HDRS)) $(DESTDIR)$(PREFIX)/include/dsck/

clean:
	rm -rf build build-asan build-fuzz
