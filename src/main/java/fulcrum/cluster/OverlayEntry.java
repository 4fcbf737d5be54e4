package fulcrum.cluster;

import static java.util.Objects.requireNonNull;

/**
 * One change the admin API made to a target group's targets, as the overlay over the
 * configuration file keeps it: the latest change per (group, target) wins, by {@code at}.
 */
public record OverlayEntry(String group, String target, Op op, int weight, long at, String by) {

    /** What the change was. */
    public enum Op {
        /** The target is in the group (with {@code weight}), whether or not the file names it. */
        REGISTER,
        /** The target is not in the group (it drains where it was), whether or not the file names it. */
        DEREGISTER;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public OverlayEntry {
        requireNonNull(group, "group");
        requireNonNull(target, "target");
        requireNonNull(op, "op");
        requireNonNull(by, "by");
    }

    /** The hash field: the group and the target, which names cannot confuse (a group name has no '/'). */
    String field() {
        return group + "/" + target;
    }

    /** The hash value: "at op weight by", the time first so the store's script can compare it. */
    String value() {
        return at + " " + op.label() + " " + weight + " " + by;
    }

    /** The entry of a hash field and value; null when either is malformed. */
    static OverlayEntry parse(String field, String value) {
        int slash = field.indexOf('/');
        String[] v = value.split(" ", 4);
        if (slash <= 0 || slash == field.length() - 1 || v.length != 4) {
            return null;
        }
        try {
            Op op = switch (v[1]) {
                case "register" -> Op.REGISTER;
                case "deregister" -> Op.DEREGISTER;
                default -> null;
            };
            return op == null ? null
                   : new OverlayEntry(field.substring(0, slash), field.substring(slash + 1), op, Integer.parseInt(v[2]),
                                      Long.parseLong(v[0]), v[3]);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Whether this entry replaces {@code other} (same field): later, or as late and from a greater instance id. */
    boolean newerThan(OverlayEntry other) {
        return at > other.at || (at == other.at && by.compareTo(other.by) > 0);
    }
}
