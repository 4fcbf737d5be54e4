package fulcrum.http;

/**
 * How risky a request's framing is, in the tiers of AWS's http_desync_guardian. Ordered from
 * harmless to dangerous so that a request's class is the worst thing noticed about it.
 */
public enum DesyncClass {
    /** Follows RFC 9110/9112. */
    COMPLIANT,
    /** Not quite RFC-conformant or unusual, but every HTTP/1.1 parser frames it the same way. */
    ACCEPTABLE,
    /** Parseable, but parsers disagree on it: a desync vector if anyone behind us reads it differently. */
    AMBIGUOUS,
    /** Malformed, or shaped the way smuggling attempts are shaped. */
    SEVERE
}
