#!/usr/bin/env bash
# Runs every test suite (TypeScript with vitest, the Python worker with pytest) and ends with one
# plain summary line "tests: N passed, N failed" so that CI reads the outcome of both.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tunekit
vitest_report=.tunekit/vitest-report.json
pytest_report=.tunekit/pytest-report.txt

# formatting and lint, both sides: Prettier and ESLint for TypeScript, ruff for the Python worker
# (`make format` rewrites what the format checks refuse)
lint_status=0
npx prettier --check --log-level warn . || lint_status=1
npx eslint . || lint_status=1
.venv/bin/ruff check worker || lint_status=1
.venv/bin/ruff format --check worker || lint_status=1
[ "$lint_status" -eq 0 ] || echo "lint: the findings above fail the run (make format fixes the formatting ones)" >&2

# the test and bench sources are type-checked too (the build covers src/ only)
npx tsc -p tsconfig.check.json
typecheck_status=$?
# the web UI has its own compiler settings (DOM, Preact JSX)
npx tsc -p src/web/tsconfig.json || typecheck_status=1

# the worker's tests run beside vitest's files (they fill the cores while those wait on servers,
# CLIs and workers); their output follows vitest's
PYTHONPATH=worker .venv/bin/python -m pytest worker/tests -q -p no:cacheprovider > "$pytest_report" 2>&1 &
pytest_pid=$!

npx vitest run --reporter=default --reporter=json --outputFile="$vitest_report"
vitest_status=$?

wait "$pytest_pid"
pytest_status=$?
cat "$pytest_report"
# pytest exits 5 when it collected nothing: that is not a pass
[ "$pytest_status" -eq 5 ] && echo "pytest collected no tests" >&2

node -e '
const fs = require("fs");
const vitest = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const pytest = fs.readFileSync(process.argv[2], "utf8");
const count = (word) => Number((pytest.match(new RegExp("(\\d+) " + word)) || [0, 0])[1]);
const passed = vitest.numPassedTests + count("passed");
const failed = Number(process.argv[3]) + vitest.numFailedTests + count("failed") + count("error");
const skipped = vitest.numPendingTests + vitest.numTodoTests + count("skipped");
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$vitest_report" "$pytest_report" "$([ "$typecheck_status" -eq 0 ] && [ "$lint_status" -eq 0 ] && echo 0 || echo 1)"

[ "$lint_status" -eq 0 ] && [ "$typecheck_status" -eq 0 ] && [ "$vitest_status" -eq 0 ] && [ "$pytest_status" -eq 0 ] && exit 0
exit 1
