package fulcrum.hardening;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Fulcrum as a user runs it: its own JVM with the shipped options (conf/jvm.options) and logging
 * (conf/logback.xml), fulcrum.Main with a config file, its output in a file. target/fulcrum.jar
 * when it is newer than the compiled classes, else the same classes from the build's classpath
 * (a test run before `package` has no jar). {@code wrapper} goes before java (a descriptor limit,
 * say). Killed on close.
 */
final class FulcrumProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listener (\\S+) listening on /127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern ADMIN = Pattern.compile("admin API listening on /127\\.0\\.0\\.1:(\\d+)");

    private final Process process;
    private final Path log;

    FulcrumProcess(Path conf, Path log, List<String> wrapper, List<String> jvmOptions) throws IOException {
        this.log = log;
        process = new ProcessBuilder(command(conf, wrapper, jvmOptions)).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
    }

    /** The command line that runs Fulcrum with {@code conf}, as the constructor starts it. */
    static List<String> command(Path conf, List<String> wrapper, List<String> jvmOptions) throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("@" + Path.of("conf/jvm.options").toAbsolutePath());
        cmd.add("-Dlogback.configurationFile=" + Path.of("conf/logback.xml").toAbsolutePath());
        cmd.addAll(jvmOptions);
        cmd.addAll(launch());
        cmd.add("--config");
        cmd.add(conf.toString());
        return cmd;
    }

    private static final Path JAR = Path.of("target/fulcrum.jar");

    /**
     * Whether target/fulcrum.jar holds the compiled classes. Out of descriptors only the jar
     * behaves as shipped: from a classpath of many jars the JVM opens each when it first loads a
     * class from it, and fails to, so a path not taken before (a 503) dies of NoClassDefFoundError.
     */
    static boolean jarIsCurrent() throws IOException {
        return Files.exists(JAR) && Files.getLastModifiedTime(JAR).compareTo(newest(Path.of("target/classes"))) >= 0;
    }

    private static List<String> launch() throws IOException {
        if (jarIsCurrent()) {
            return List.of("-jar", JAR.toAbsolutePath().toString());
        }
        String cp = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !e.endsWith("test-classes"))
                .collect(Collectors.joining(File.pathSeparator));
        return List.of("-cp", cp, "fulcrum.Main");
    }

    private static java.nio.file.attribute.FileTime newest(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).map(p -> {
                try {
                    return Files.getLastModifiedTime(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).max(Comparable::compareTo).orElseThrow();
        }
    }

    /** Waits for the listener {@code name} to be bound and returns its port. */
    int listenerPort(String name, long timeoutMs) throws Exception {
        return Integer.parseInt(await(m -> m.group(1).equals(name), LISTENING, timeoutMs).group(2));
    }

    int adminPort(long timeoutMs) throws Exception {
        return Integer.parseInt(await(m -> true, ADMIN, timeoutMs).group(1));
    }

    private Matcher await(java.util.function.Predicate<Matcher> which, Pattern p, long timeoutMs) throws Exception {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < end) {
            Matcher m = p.matcher(output());
            while (m.find()) {
                if (which.test(m)) {
                    return m;
                }
            }
            if (!process.isAlive()) {
                throw new AssertionError("fulcrum exited with " + process.exitValue() + ":\n" + output());
            }
            Thread.sleep(50);
        }
        throw new AssertionError("fulcrum did not start in " + timeoutMs + " ms:\n" + output());
    }

    String output() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /** The output's lines that contain {@code text}. */
    List<String> lines(String text) throws IOException {
        return output().lines().filter(l -> l.contains(text)).toList();
    }

    Process process() {
        return process;
    }

    /**
     * CPU time (user + system) the process's threads have used so far, from /proc, in
     * milliseconds, the JIT compilers' left out: a JVM started seconds ago is still compiling
     * (more so on a loaded machine), which says nothing of what Fulcrum's code does.
     */
    long cpuMillis() throws IOException {
        long ticks = 0;
        try (var tasks = Files.list(Path.of("/proc/" + process.pid() + "/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // a thread that ended meanwhile
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                if (name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler")) {
                    continue;
                }
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second).
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
            }
        }
        return ticks * 10;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }
}
