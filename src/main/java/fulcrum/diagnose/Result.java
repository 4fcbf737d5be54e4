package fulcrum.diagnose;

import java.util.List;

/** One check's outcome: its verdict, a one-line summary, details, and on failure what to change. */
record Result(Verdict verdict, String title, String summary, List<String> details, List<String> fixes) {

    enum Verdict { PASS, WARN, FAIL, SKIP }

    Result {
        details = List.copyOf(details);
        fixes = List.copyOf(fixes);
    }

    static Result pass(String title, String summary, List<String> details) {
        return new Result(Verdict.PASS, title, summary, details, List.of());
    }

    static Result skip(String title, String summary) {
        return new Result(Verdict.SKIP, title, summary, List.of(), List.of());
    }

    static Result fail(String title, String summary, List<String> details, List<String> fixes) {
        return new Result(Verdict.FAIL, title, summary, details, fixes);
    }

    static Result warn(String title, String summary, List<String> details, List<String> fixes) {
        return new Result(Verdict.WARN, title, summary, details, fixes);
    }
}
