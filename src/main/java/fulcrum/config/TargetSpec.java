package fulcrum.config;

/** One configured target: its address and its share of the group's traffic. */
public record TargetSpec(HostPort address, int weight) {
    public TargetSpec {
        java.util.Objects.requireNonNull(address, "address");
        if (weight < 0 || weight > 999) {
            throw new IllegalArgumentException("weight " + weight + " is not between 0 and 999");
        }
    }
}
