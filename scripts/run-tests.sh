#!/usr/bin/env bash
# Runs every test suite (TypeScript with vitest, the Python worker with pytest) and ends with one
# plain summary line "tests: N passed, N failed" so that CI reads the outcome of both.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tunekit
vitest_report=.tunekit/vitest-report.json
pytest_report=.tunekit/pytest-report.txt

# Three things at once on the cores (each is mostly one process that waits, or one thread), their
# outputs printed after vitest's:
# - the checks: formatting and lint on both sides (Prettier and ESLint for TypeScript, ruff for the
#   Python worker; `make format` rewrites what the format checks refuse), and the type check of the
#   test and bench sources (the build covers src/ only) and of the web UI (DOM, Preact JSX);
# - the worker's pytest;
# - vitest (below).
checks_report=.tunekit/checks-report.txt
(
  status=0
  npx prettier --check --log-level warn . || status=1
  npx eslint . || status=1
  .venv/bin/ruff check worker || status=1
  .venv/bin/ruff format --check worker || status=1
  [ "$status" -eq 0 ] || echo "lint: the findings above fail the run (make format fixes the formatting ones)"
  npx tsc -p tsconfig.check.json || status=2
  npx tsc -p src/web/tsconfig.json || status=2
  exit "$status"
) > "$checks_report" 2>&1 &
checks_pid=$!

PYTHONPATH=worker .venv/bin/python -m pytest worker/tests -q -p no:cacheprovider > "$pytest_report" 2>&1 &
pytest_pid=$!

npx vitest run --reporter=default --reporter=json --outputFile="$vitest_report"
vitest_status=$?

wait "$checks_pid"
checks_status=$?
echo "== lint and type checks (exit $checks_status)"
cat "$checks_report"
lint_status=$([ "$checks_status" -eq 0 ] && echo 0 || echo 1)
typecheck_status=$lint_status

wait "$pytest_pid"
pytest_status=$?
echo "== pytest"
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
// the failures again at the very end, where a CI log that keeps only its tail still shows them
const firstLine = (text) => (text || "").split("\n")[0].slice(0, 300);
for (const file of vitest.testResults) {
  const name = file.name.replace(process.cwd() + "/", "");
  const failedTests = file.assertionResults.filter((t) => t.status === "failed");
  for (const test of failedTests) console.log(`FAILED ${name} > ${test.fullName}: ${firstLine(test.failureMessages[0])}`);
  if (file.status === "failed" && failedTests.length === 0) console.log(`FAILED ${name}: ${firstLine(file.message)}`);
}
for (const line of pytest.split("\n").filter((l) => /^(FAILED|ERROR) /.test(l))) console.log(line);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$vitest_report" "$pytest_report" "$([ "$typecheck_status" -eq 0 ] && [ "$lint_status" -eq 0 ] && echo 0 || echo 1)"

[ "$lint_status" -eq 0 ] && [ "$typecheck_status" -eq 0 ] && [ "$vitest_status" -eq 0 ] && [ "$pytest_status" -eq 0 ] && exit 0
exit 1
