package fulcrum.health;

import fulcrum.config.StatusMatcher;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;

/**
 * The two messages of the standard gRPC health checking protocol (grpc.health.v1), written and
 * read by hand so that the balancer needs no protobuf runtime:
 * {@code HealthCheckRequest { string service = 1; }} and
 * {@code HealthCheckResponse { ServingStatus status = 1; }}, each in gRPC's length-prefixed frame
 * (a compressed-flag byte and a 4-byte length). Also judges a gRPC answer's grpc-status.
 */
final class GrpcHealth {
    /** grpc.health.v1.HealthCheckResponse.ServingStatus. */
    private static final String[] SERVING_STATUS = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
    private static final String[] CODES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
        "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    private static final int SERVING = 1;
    /** A HealthCheckResponse is a few bytes; more is not an answer of the health service. */
    static final int MAX_ANSWER = 4096;

    private GrpcHealth() {
    }

    /** One framed HealthCheckRequest; an empty service is the empty message (proto3 omits defaults). */
    static ByteBuf request(ByteBufAllocator alloc, String service) {
        byte[] name = service == null ? new byte[0] : service.getBytes(StandardCharsets.UTF_8);
        int length = name.length == 0 ? 0 : 1 + varintSize(name.length) + name.length;
        ByteBuf b = alloc.buffer(5 + length);
        b.writeByte(0).writeInt(length);
        if (name.length > 0) {
            b.writeByte(1 << 3 | 2); // field 1, length-delimited
            writeVarint(b, name.length);
            b.writeBytes(name);
        }
        return b;
    }

    /**
     * Judges an answer by its grpc-status and, for the health service ({@code answer} not null:
     * the DATA received, framed), by the serving status it carries.
     */
    static ProbeResult judge(CharSequence grpcStatus, StatusMatcher codes, ByteBuf answer) {
        int code;
        try {
            code = Integer.parseInt(grpcStatus.toString());
        } catch (NumberFormatException e) {
            return ProbeResult.failed("invalid grpc-status " + grpcStatus);
        }
        String status = "grpc-status " + code + (code >= 0 && code < CODES.length ? " " + CODES[code] : "");
        if (!codes.matches(code)) {
            return ProbeResult.failed(status + " not in " + codes);
        }
        if (answer == null) {
            return ProbeResult.passed(status);
        }
        if (!answer.isReadable()) {
            return ProbeResult.failed("no HealthCheckResponse (" + status + ")");
        }
        int serving = servingStatus(answer);
        if (serving == SERVING) {
            return ProbeResult.passed("SERVING");
        }
        if (serving < 0) {
            return ProbeResult.failed("invalid HealthCheckResponse");
        }
        return ProbeResult.failed(serving < SERVING_STATUS.length ? SERVING_STATUS[serving] : "serving status " + serving);
    }

    /** The status field of one framed, uncompressed HealthCheckResponse, or -1 when it is not one. */
    static int servingStatus(ByteBuf framed) {
        ByteBuf b = framed.duplicate();
        if (b.readableBytes() < 5 || b.readByte() != 0) {
            return -1; // short, or compressed: the probe offers no grpc-accept-encoding
        }
        long length = b.readUnsignedInt();
        if (length != b.readableBytes()) {
            return -1;
        }
        int status = 0; // proto3: an absent field is its default, UNKNOWN
        while (b.isReadable()) {
            long key = readVarint(b);
            int wireType = (int) (key & 7);
            if (key >>> 3 == 1 && wireType == 0) {
                long v = readVarint(b);
                status = v < 0 || v > Integer.MAX_VALUE ? -1 : (int) v;
            } else if (!skip(b, wireType)) {
                return -1;
            }
            if (status < 0) {
                return -1;
            }
        }
        return status;
    }

    /** Skips a field of an unknown number; false when the message is malformed. */
    private static boolean skip(ByteBuf b, int wireType) {
        long n = switch (wireType) {
            case 0 -> skipVarint(b) ? 0 : -1;
            case 1 -> 8;
            case 2 -> readVarint(b);
            case 5 -> 4;
            default -> -1;
        };
        if (n < 0 || n > b.readableBytes()) {
            return false;
        }
        b.skipBytes((int) n);
        return true;
    }

    /** A varint of at most 64 bits, or -1 when truncated or longer (and when it is above 2^63). */
    private static long readVarint(ByteBuf b) {
        long v = 0;
        for (int shift = 0; shift < 64 && b.isReadable(); shift += 7) {
            byte x = b.readByte();
            v |= (long) (x & 0x7f) << shift;
            if (x >= 0) {
                return v;
            }
        }
        return -1;
    }

    private static boolean skipVarint(ByteBuf b) {
        for (int i = 0; i < 10 && b.isReadable(); i++) {
            if (b.readByte() >= 0) {
                return true;
            }
        }
        return false;
    }

    private static void writeVarint(ByteBuf b, int v) {
        while ((v & ~0x7f) != 0) {
            b.writeByte(v & 0x7f | 0x80);
            v >>>= 7;
        }
        b.writeByte(v);
    }

    private static int varintSize(int v) {
        return (32 - Integer.numberOfLeadingZeros(v | 1) + 6) / 7;
    }
}
