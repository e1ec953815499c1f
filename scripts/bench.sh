#!/usr/bin/env bash
# npm run bench — every benchmark, one after the other:
#   1. policy engine decision/compile cost   (vitest bench, no cluster)
#   2. policy-change → enforcement latency   (bench/controller-latency.ts, real cluster)
#   3. MCP tool calls, throughput and memory  (bench/mcp.ts, real cluster, 1,000 and 10,000 pods)
#   4. many agents: 1,000 callers with their own tokens and McpPolicies vs one caller, 10,000 pods
#      (bench/agents.ts --cleanup: its namespaces are deleted at the end, so a reused cluster is left
#      as bench/mcp.ts expects it)
# The cluster benches share one local control plane: a running `npm run cluster:up` (in
# KUBEMCP_CLUSTER_DIR, default .cluster/) is reused and left running; otherwise one is started here
# and stopped at the end. Extra arguments go to bench/mcp.ts (e.g. -- --pods 1000);
# BENCH_AGENTS_ARGS to bench/agents.ts (e.g. BENCH_AGENTS_ARGS=--quick).
# Results: bench/results/ (JSON). Targets are printed; a missed target does not fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

started_here=0
cleanup() {
  if [ "$started_here" = 1 ]; then npx tsx test/cluster/cli.ts down || true; fi
}
trap cleanup EXIT

printf '\n### 1/4 policy engine (vitest bench)\n'
npx vitest bench --run --project unit

if ! npx tsx test/cluster/cli.ts status >/dev/null 2>&1; then
  printf '\n### starting a local control plane for the cluster benchmarks\n'
  npx tsx test/cluster/cli.ts up
  started_here=1
fi

printf '\n### 2/4 policy change → enforcement latency (bench/controller-latency.ts)\n'
npx tsx bench/controller-latency.ts

printf '\n### 3/4 MCP tool calls on 1,000 and 10,000 pods (bench/mcp.ts)\n'
npx tsx bench/mcp.ts "$@"

printf '\n### 4/4 many agents: 1,000 callers vs one (bench/agents.ts)\n'
# shellcheck disable=SC2086 # BENCH_AGENTS_ARGS is a list of flags
npx tsx bench/agents.ts --no-build --cleanup ${BENCH_AGENTS_ARGS:-}
