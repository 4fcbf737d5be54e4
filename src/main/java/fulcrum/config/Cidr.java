package fulcrum.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An address block such as 10.0.0.0/8 or ::1/128; a bare address is a block of one. */
public record Cidr(byte[] network, int prefix) {

    public static Cidr parse(String s) {
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        byte[] bytes = literal(addr);
        int max = bytes.length * 8;
        int prefix = max;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(s.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + s.substring(slash + 1) + "' is not a prefix length");
            }
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("prefix length " + prefix + " is not between 0 and " + max);
            }
        }
        return new Cidr(mask(bytes, prefix), prefix);
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        byte[] masked = mask(a, prefix);
        return java.util.Arrays.equals(masked, network);
    }

    private static byte[] mask(byte[] in, int prefix) {
        byte[] out = in.clone();
        for (int i = 0; i < out.length; i++) {
            int bits = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] &= (byte) (bits == 0 ? 0 : 0xff << (8 - bits));
        }
        return out;
    }

    private static byte[] literal(String addr) {
        if (addr.isEmpty() || !(Character.digit(addr.charAt(0), 16) >= 0 || addr.charAt(0) == ':')) {
            throw new IllegalArgumentException("'" + addr + "' is not an IP address");
        }
        for (int i = 0; i < addr.length(); i++) {
            char c = addr.charAt(i);
            if (Character.digit(c, 16) < 0 && c != '.' && c != ':') {
                throw new IllegalArgumentException("'" + addr + "' is not an IP address");
            }
        }
        try {
            return InetAddress.getByName(addr).getAddress(); // a literal: no lookup happens
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + addr + "' is not an IP address");
        }
    }

    @Override
    public String toString() {
        try {
            return InetAddress.getByAddress(network).getHostAddress() + "/" + prefix;
        } catch (UnknownHostException e) {
            return "?/" + prefix;
        }
    }
}
