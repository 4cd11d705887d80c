# Sourced by scripts/asan.sh and scripts/tsan.sh: how the sanitizer runtimes behave under the
# tests (docs/hardening.md, "Sanitizers"). The first finding stops the process with abort(), so a
# unit test fails, a command-line test sees a signal instead of the exit code it expects, and the
# harness fails the test whose gateway or mock printed the report.
sanitizers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/sanitizers" && pwd)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export LSAN_OPTIONS="suppressions=$sanitizers_dir/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$sanitizers_dir/tsan.supp"
