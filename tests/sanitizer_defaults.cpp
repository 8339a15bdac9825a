// Linked into the sanitizer builds' programs (POPO_SANITIZE: popo_core_tests and the fuzz
// targets): the default options of AddressSanitizer, UndefinedBehaviorSanitizer and
// LeakSanitizer, and the one leak that is not ours.
extern "C" {

const char* __asan_default_options() { return "detect_stack_use_after_return=1:strict_string_checks=1"; }

const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

// CLN (GiNaC's number library, a Debian binary without instrumentation) allocates a 26-byte
// object while initialising its statics and never frees it: one allocation per process, not a
// leak that grows.
const char* __lsan_default_suppressions() { return "leak:libcln.so\n"; }

}
