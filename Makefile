# Theater in C - the two commands of the README, and a few helpers.
#
#   make demo    set up (Debian packages), build, run the bundled example
#   make test    set up, build, run the whole test suite (normal build, then
#                an ASan+UBSan build of it, then a TSan build of every test
#                not labelled `single-thread`)
#   make build   just build (build/theater)
#   make bench   build and run the benchmarks
#   make tsan    just the TSan build and its run (tests not labelled `single-thread`)
#
# Warnings are errors under CI (CI=true, 1 or yes; CI=false, 0 or empty is
# not CI) or with WERROR=1 (tests/build/make_ci.sh checks which is which).

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
GEN        := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
ifneq ($(filter true True TRUE 1 yes Yes YES,$(CI)),)
WERROR ?= 1
endif
WERROR     ?= 0
CMAKE_FLAGS = -DTHEATER_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF)

.PHONY: all setup build demo test test-unit test-sanitize tsan bench clean format

all: build

setup:
	@sh scripts/setup.sh

# Every build configures again, so flags given now (WERROR under CI) replace
# whatever an earlier configure cached; the generator is chosen only for a
# new build directory (cmake refuses to change it).
configure = cmake -S . -B $(1) $(if $(wildcard $(1)/CMakeCache.txt),,$(GEN)) $(CMAKE_FLAGS)

build: setup
	$(call configure,$(BUILD)) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@sh scripts/demo.sh $(BUILD)

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE sanitize-skip

test-sanitize: setup
	$(call configure,$(ASAN_BUILD)) -DCMAKE_BUILD_TYPE=Debug -DTHEATER_SANITIZE=address
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -LE "slow|sanitize-skip"

# The whole suite: everything in the normal build, then the ASan+UBSan run,
# then the TSan run of the threaded tests; the output ends with ctest's
# summary of the last run.
test: test-unit test-sanitize tsan

tsan: setup
	$(call configure,$(TSAN_BUILD)) -DCMAKE_BUILD_TYPE=Debug -DTHEATER_SANITIZE=thread
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -LE "single-thread|sanitize-skip|slow"

bench: build
	@sh scripts/bench.sh $(BUILD)

format:
	sh scripts/format.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
