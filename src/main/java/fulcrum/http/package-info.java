/**
 * Request framing policy: where a request ends, and what the balancer forwards.
 *
 * <p>{@link fulcrum.http.RequestDecoder} classifies every request in the tiers of AWS's
 * http_desync_guardian, then acts by {@link fulcrum.http.DesyncMode}:
 *
 * <table>
 *   <caption>Classification and what each mode does with it</caption>
 *   <tr><th>Class</th><th>Examples</th><th>MONITOR</th><th>DEFENSIVE</th><th>STRICTEST</th></tr>
 *   <tr><td>SEVERE, no single framing</td>
 *       <td>Content-Length not 1*DIGIT (sign, hex, overflow, empty) or values that differ;
 *       Transfer-Encoding not ending in chunked, chunked twice or with parameters; control bytes
 *       in either; malformed request line (method not a token, no version, whitespace or
 *       controls in the target, double spaces, bad version; HTTP/2 gets 505); header line without
 *       colon, with whitespace before the colon, a name that is not a token, whitespace before
 *       the first field; bad chunk size, extension or missing CRLF after chunk data</td>
 *       <td>reject</td><td>reject</td><td>reject</td></tr>
 *   <tr><td>SEVERE, framable</td>
 *       <td>Content-Length with Transfer-Encoding; obs-fold; NUL, bare CR or other controls in a
 *       header value; duplicate or invalid Host; Host that disagrees with an absolute-form
 *       target; HTTP/1.1 without Host</td>
 *       <td>forward normalised (chunked only, unfolded, controls to SP, Host from target)</td>
 *       <td>reject</td><td>reject</td></tr>
 *   <tr><td>AMBIGUOUS</td>
 *       <td>identical duplicate Content-Length; lines ended by a bare LF; Transfer-Encoding in
 *       HTTP/1.0; GET or HEAD with a body; a name that normalises to a framing header
 *       ("Transfer_Encoding")</td>
 *       <td>forward, record</td><td>forward normalised, then close</td><td>reject</td></tr>
 *   <tr><td>ACCEPTABLE</td>
 *       <td>absolute-form target (made origin-form); HTTP/1.2-1.9 (served as 1.1); a transfer
 *       coding before the final chunked</td>
 *       <td>forward</td><td>forward</td><td>forward</td></tr>
 *   <tr><td>COMPLIANT</td><td>everything else</td><td>forward</td><td>forward</td><td>forward</td></tr>
 * </table>
 *
 * <p>Where this differs from ALB, on purpose: Content-Length with Transfer-Encoding and obs-fold
 * are SEVERE here (ALB: ambiguous), so that DEFENSIVE, the default, refuses the two oldest
 * smuggling shapes outright; control bytes in any header value are SEVERE (ALB: acceptable in
 * non-framing headers) because RFC 9110 5.5 calls them dangerous and we forward headers to
 * backends we do not know; STRICTEST still forwards ACCEPTABLE requests (ALB blocks them)
 * because those are valid by RFC 9112 and we are never stricter than the RFC on a valid
 * request; MONITOR still rejects what has no single framing, since forwarding it would mean
 * choosing one reading for the backend. Requests RFC 9112 6.1 says to close after (Content-Length
 * with Transfer-Encoding, Transfer-Encoding in HTTP/1.0) are closed after in every mode.
 *
 * <p>Limits answer 414 (request line), 431 (header section size or count) and 413 (body).
 *
 * <p>Responses from backends are read by {@link fulcrum.http.ResponseDecoder}, framed as RFC
 * 9112 6.3 says for responses; a head it cannot read safely fails the exchange with 502, and
 * only framing and hop-by-hop fields are parsed, the rest forwarded as the backend's bytes.
 */
package fulcrum.http;
