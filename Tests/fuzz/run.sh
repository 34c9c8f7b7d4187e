#!/usr/bin/env bash
# Tests/fuzz/run.sh SECONDS [HARNESS...]
#
# Builds the libFuzzer harnesses (Tests/fuzz/harnesses/<name>; HRNET_FUZZ=1 adds them to
# Package.swift) with libFuzzer + AddressSanitizer (+ UndefinedBehaviorSanitizer for C; Swift's
# own checks trap, and a trap is a finding), then for each harness (default: all four):
#   1. replays Tests/fuzz/regressions/<name>/* (every file must run without a finding);
#   2. fuzzes for SECONDS, starting from the committed seeds Tests/fuzz/corpus/<name>/ (read only)
#      and a working corpus $WORK/<name>/corpus that keeps what earlier runs found (new inputs go
#      there; delete it to start afresh). SECONDS = 0 only runs the seeds and the working corpus
#      once each (a smoke test).
# A crash, sanitizer report, Swift trap, leak, timeout or out-of-memory is a finding: the script
# prints the input libFuzzer saved (under $WORK/<name>/) and how to replay it, and exits 1.
# Last line: "N passed, N failed", one count per harness.
#
# Installs nothing: needs the Swift toolchain (its clang, lld and compiler-rt) on PATH, and the
# packages the normal build needs. Builds in .build-fuzz (debug: Swift's checks are on).
# Environment: HRNET_FUZZ_SCRATCH (build dir, default .build-fuzz), HRNET_FUZZ_WORK (default
# $HRNET_FUZZ_SCRATCH/fuzz-work), HRNET_FUZZ_TIMEOUT (seconds per input, default 10),
# HRNET_FUZZ_RSS_MB (default 2048), HRNET_FUZZ_MALLOC_MB (largest single allocation, default 512),
# HRNET_FUZZ_ARGS (extra libFuzzer options).
set -uo pipefail
cd "$(dirname "$0")/../.."

usage() { echo "usage: Tests/fuzz/run.sh SECONDS [checkpoint|pipeline|image|json ...]" >&2; exit 2; }
[[ $# -ge 1 && "$1" =~ ^[0-9]+$ ]] || usage
duration=$1
shift
all=(checkpoint pipeline image json)
if (( $# )); then harnesses=("$@"); else harnesses=("${all[@]}"); fi
for h in "${harnesses[@]}"; do
    [[ " ${all[*]} " == *" $h "* ]] || { echo "unknown harness '$h' (known: ${all[*]})" >&2; exit 2; }
done

scratch=${HRNET_FUZZ_SCRATCH:-.build-fuzz}
work=${HRNET_FUZZ_WORK:-$scratch/fuzz-work}
timeout=${HRNET_FUZZ_TIMEOUT:-10}
rss=${HRNET_FUZZ_RSS_MB:-2048}
# No input here is larger than 64 KiB: one allocation of more than this is a finding.
malloc_mb=${HRNET_FUZZ_MALLOC_MB:-512}

# Largest input libFuzzer makes, per harness: checkpoints need room for a few dozen tensors.
max_len() {
    case $1 in
        checkpoint) echo 65536 ;;
        image) echo 16384 ;;
        json) echo 8192 ;;
        pipeline) echo 4096 ;;
    esac
}

export HRNET_FUZZ=1
# A Swift trap must reach libFuzzer's signal handler (which saves the input), not Swift's
# backtracer. UBSan stops at the first report.
export SWIFT_BACKTRACE=enable=no
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_stack_use_after_return=0}

flags=(--scratch-path "$scratch" -j 2
       --sanitize fuzzer --sanitize address
       # SwiftPM passes each --sanitize to swiftc separately and only the last takes effect there.
       -Xswiftc -sanitize=fuzzer,address
       -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
       -Xcc -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
       # gold loses the coverage counters' section bounds; lld keeps them.
       -Xswiftc -use-ld=lld)

build_start=$(date +%s)
for h in "${harnesses[@]}"; do
    echo "== building fuzz-$h"
    log=$(mktemp)
    if ! swift build "${flags[@]}" --product "fuzz-$h" >"$log" 2>&1; then
        grep -v "Cannot export local symbol" "$log" | tail -40
        rm -f "$log"
        echo "build of fuzz-$h failed"
        echo "0 passed, ${#harnesses[@]} failed"
        exit 1
    fi
    rm -f "$log"
done
bin=$(swift build "${flags[@]}" --show-bin-path)
echo "== built in $(( $(date +%s) - build_start )) s ($bin)"

passed=0
failed=0
failures=()
for h in "${harnesses[@]}"; do
    exe="$bin/fuzz-$h"
    dir="$work/$h"
    mkdir -p "$dir/corpus"
    opts=(-max_len="$(max_len "$h")" -timeout="$timeout" -rss_limit_mb="$rss" -malloc_limit_mb="$malloc_mb"
          -artifact_prefix="$dir/"
          -print_final_stats=1)
    [[ -f "Tests/fuzz/dicts/$h.dict" ]] && opts+=(-dict="Tests/fuzz/dicts/$h.dict")
    # shellcheck disable=SC2206
    opts+=(${HRNET_FUZZ_ARGS:-})
    ok=1

    regressions=()
    if [[ -d "Tests/fuzz/regressions/$h" ]]; then
        while IFS= read -r -d '' f; do regressions+=("$f"); done \
            < <(find "Tests/fuzz/regressions/$h" -type f ! -name '*.md' -print0 | sort -z)
    fi
    if (( ${#regressions[@]} )); then
        echo "== $h: replaying ${#regressions[@]} regression input(s)"
        log="$dir/regressions.log"
        if ! "$exe" "${opts[@]}" "${regressions[@]}" >"$log" 2>&1; then
            ok=0
            tail -60 "$log"
            bad=$(grep -o "Running: .*" "$log" | tail -1 | cut -c10-)
            echo "!! $h: regression input ${bad:-?} gives a finding (log: $log)"
            echo "   replay: SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=allocator_may_return_null=1 $exe $bad"
        fi
    fi

    if (( ok )); then
        log="$dir/fuzz.log"
        if (( duration == 0 )); then
            echo "== $h: running the seeds and the working corpus once"
            run=(-runs=0)
        else
            echo "== $h: fuzzing for $duration s"
            run=(-max_total_time="$duration")
        fi
        start=$(date +%s)
        "$exe" "${opts[@]}" "${run[@]}" "$dir/corpus" "Tests/fuzz/corpus/$h" >"$log" 2>&1
        status=$?
        execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -o "[0-9]*$")
        rate=$(grep -oE "stat::average_exec_per_sec: *[0-9]+" "$log" | grep -o "[0-9]*$")
        cov=$(grep -oE "(DONE|INITED) +cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*" "$log" | tail -1 | sed -E 's/(DONE|INITED) +//')
        stats="${execs:-?} runs, ${rate:-?} exec/s, ${cov:-no coverage line}"
        echo "   $h: exit $status after $(( $(date +%s) - start )) s; $stats"
        if (( status != 0 )); then
            ok=0
            grep -v "^#[0-9]" "$log" | tail -60
            artifact=$(grep -o "Test unit written to .*" "$log" | tail -1 | cut -c22-)
            echo "!! $h: finding (log: $log)"
            if [[ -n "$artifact" ]]; then
                echo "   input: $artifact"
                echo "   replay: SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=allocator_may_return_null=1 $exe $artifact"
                echo "   keep it as a regression: cp $artifact Tests/fuzz/regressions/$h/"
            fi
        fi
    fi
    if (( ok )); then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$h"); fi
done

(( failed )) && echo "findings in: ${failures[*]}"
echo "$passed passed, $failed failed"
(( failed == 0 ))
