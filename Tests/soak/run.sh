#!/usr/bin/env bash
# Soak test of libhrnet (not part of CI): opens and closes sessions, loads models from the file
# and from memory, runs forward passes and the pipeline for MINUTES minutes and reports the RSS
# every INTERVAL seconds and a verdict on its growth after the warm-up (Tests/soak/soak.c).
#
#     Tests/soak/run.sh MINUTES [INTERVAL_SECONDS]
#
# Builds the library first (swift build -c release) unless SKIP_BUILD=1. SOAK_ALLOW_MIB sets the
# allowed RSS growth (default 8). The output is also written to .build/soak/soak.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:?usage: Tests/soak/run.sh MINUTES [INTERVAL_SECONDS]}
interval=${2:-10}
if [ "${SKIP_BUILD:-0}" != 1 ]; then swift build -c release; fi
lib=$PWD/.build/release
# The program is linked with -lhrnet, so it loads the library by its SONAME (libhrnet.so.0).
soname=$(readelf -d "$lib/libhrnet.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ -z "$soname" ] || ln -sf libhrnet.so "$lib/$soname"
mkdir -p .build/soak
${CC:-cc} -O2 -g -std=c99 -Wall -Wextra -I include -o .build/soak/soak Tests/soak/soak.c \
    -L "$lib" -Wl,-rpath,"$lib" -lhrnet -lm
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
.build/soak/soak "$PWD" "$seconds" "$interval" | tee .build/soak/soak.log
exit "${PIPESTATUS[0]}"
