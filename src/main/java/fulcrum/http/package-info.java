/**
 * HTTP/1.1 framing for both directions: where a message ends, and what the balancer forwards.
 *
 * <p>{@link fulcrum.http.RequestDecoder} classifies every request in the tiers of AWS's
 * http_desync_guardian, then acts by {@link fulcrum.http.DesyncMode}:
 *
 * <table>
 *   <caption>Classification and what each mode does with it</caption>
 *   <tr><th>Class</th><th>Examples</th><th>MONITOR</th><th>DEFENSIVE</th><th>STRICTEST</th></tr>
 *   <tr><td>SEVERE, no single framing</td>
 *       <td>Content-Length not 1*DIGIT (sign, hex, overflow, empty) or values that differ;
 *       Transfer-Encoding not ending in chunked or chunked twice; control bytes in either;
 *       whitespace between a framing or Host name and its colon; a CR not followed by LF
 *       anywhere in the head, a chunk-size line or trailers; malformed request line (method not
 *       a token, tab or controls in the target, "HTTP/" inside it, double spaces, bad version;
 *       HTTP/2 gets 505); header line without colon, empty name, NUL in a name, whitespace
 *       before the first field; bad chunk size, extension or missing CRLF after chunk data</td>
 *       <td>reject</td><td>reject</td><td>reject</td></tr>
 *   <tr><td>SEVERE, framable</td>
 *       <td>Content-Length with Transfer-Encoding; a Content-Length list ("5, 5"); obs-fold; NUL
 *       in a header value; duplicate or invalid Host; Host that disagrees with an absolute-form
 *       target; HTTP/1.1 without Host</td>
 *       <td>forward normalised (chunked only, one value, unfolded, NUL to SP, Host from target)</td>
 *       <td>reject</td><td>reject</td></tr>
 *   <tr><td>AMBIGUOUS</td>
 *       <td>identical duplicate Content-Length; lines ended by a bare LF; Transfer-Encoding in
 *       HTTP/1.0; framing fields in HTTP/0.9; GET or HEAD with a body; a name that reads as a
 *       framing header to a parser that skips odd bytes ("Transfer_Encoding",
 *       "\x01Content-Length", "Transfer-Encoding x"; dropped when not a token)</td>
 *       <td>forward, record</td><td>forward normalised, then close</td><td>reject</td></tr>
 *   <tr><td>ACCEPTABLE</td>
 *       <td>what ALB's defensive mode forwards and RFC 9112 does not quite allow, each
 *       normalised: HTTP/1.2-1.9 (as 1.1); HTTP/0.9 or no version (as 1.0); an empty target (as
 *       "/"); SP inside the target (as %20); whitespace after the version; whitespace between
 *       another name and its colon (removed); a name that is not a token (field dropped);
 *       controls other than NUL, CR, LF in a value (as SP); parameters on chunked (removed, or
 *       Netty's encoder would not chunk)</td>
 *       <td>forward</td><td>forward</td><td>reject</td></tr>
 *   <tr><td>COMPLIANT</td><td>everything else, including absolute-form targets (made origin-form),
 *       any transfer codings before chunked, chunk extensions with quoted-string values, raw
 *       UTF-8 in the target (sent as received; other obs-text percent-encoded), obs-text in
 *       values</td><td>forward</td><td>forward</td><td>forward</td></tr>
 * </table>
 *
 * <p>The test corpus src/test/resources/desync/guardian.tsv is http_desync_guardian's own, with
 * guardian's class beside ours. Where we differ from ALB, on purpose: Content-Length with
 * Transfer-Encoding, obs-fold, and whitespace before the colon of a framing name are SEVERE
 * (ALB: ambiguous), so that DEFENSIVE, the default, refuses the oldest smuggling shapes outright;
 * so are a tab or control byte in the target and an empty name (ALB: ambiguous), which have no
 * normal form to forward. Parameters on chunked and an empty target are ACCEPTABLE (ALB:
 * compliant) because we rewrite them; GET or HEAD with "Content-Length: 0" is COMPLIANT (ALB:
 * acceptable) because RFC 9110 allows it and clients send it. MONITOR still rejects what has no
 * single framing, since forwarding it would mean choosing one reading for the backend. Requests
 * RFC 9112 6.1 says to close after (Content-Length with Transfer-Encoding, Transfer-Encoding in
 * HTTP/1.0) are closed after in every mode.
 *
 * <p>Limits answer 414 (request line), 431 (header section size or count) and 413 (body).
 *
 * <p>Responses from backends are read by {@link fulcrum.http.ResponseDecoder}, framed as RFC
 * 9112 6.3 says for responses; a head it cannot read safely fails the exchange with 502, and
 * only framing and hop-by-hop fields are parsed, the rest forwarded as the backend's bytes.
 *
 * <p>Shared by both directions:
 * <ul>
 *   <li>{@code BodyReader} reads every body: a fixed length, chunked (extensions, trailers), or
 *   until the connection closes (responses only). Its {@code Policy} is each direction's
 *   strictness, stated where each decoder builds it: requests accept only CRLF in chunked
 *   framing and only ";"-led extensions without control bytes, and a bad line is a 400 of class
 *   SEVERE (413 over max-body-size, 431 for trailers over the header limit); responses also
 *   read a bare LF and sizes padded with spaces, and anything they cannot read fails the
 *   exchange with 502. A CR not followed by LF is refused in both, as soon as the next byte
 *   arrives. Trailer lines are framed there and parsed by each decoder as its head fields.</li>
 *   <li>{@code HopByHop} is the one table of fields not forwarded (RFC 9110 7.6.1: Connection
 *   and what it names, Keep-Alive, Proxy-Connection, TE, Trailer, Proxy-Authenticate, Upgrade
 *   unless switching protocols) and the one reader of Connection values, allocation-free for
 *   keep-alive and close. Transfer-Encoding is left to the framing: a body is forwarded in the
 *   coding it arrived in.</li>
 *   <li>{@code LineFinder} finds line ends for the request head and chunked framing, with the
 *   one bare-CR rule.</li>
 *   <li>{@code Framing} reads Content-Length and Transfer-Encoding values.</li>
 * </ul>
 */
package fulcrum.http;
