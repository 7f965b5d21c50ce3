package dev.buckcache.clients;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordingFile;

/**
 * Records every TCP peer this test JVM and its child processes talk to, so a test can assert
 * that all of them are loopback (127.0.0.0/8, ::1).
 *
 * <p>Design notes: two witnesses, because neither sees everything. (1) A JFR recording of
 * {@code jdk.SocketRead}/{@code jdk.SocketWrite} with no threshold sees every byte moved by a
 * JDK socket or socket channel (HttpClient, HttpURLConnection, so Testcontainers' wait
 * strategy), however short the connection. (2) A sampler reads {@code /proc/<pid>/fd} of this
 * JVM and its descendants (curl, podman) every few milliseconds and looks their socket inodes up
 * in {@code /proc/net/tcp} and {@code tcp6}: that sees native sockets too (Netty's epoll
 * transport under gRPC, child programs), as long as a connection lives longer than a sample.
 * Unix-domain sockets (the podman API) are not TCP and are not peers here.
 */
final class LoopbackOnly implements AutoCloseable {
  private static final Pattern SOCKET = Pattern.compile("socket:\\[(\\d+)]");
  private static final Duration EVERY = Duration.ofMillis(5);

  private final Set<String> peers = ConcurrentHashMap.newKeySet();
  private final Recording recording = new Recording();
  private final Path jfrFile;
  private final Thread sampler;
  private volatile boolean running = true;
  private int samples;

  private LoopbackOnly(Path work) {
    this.jfrFile = work.resolve("sockets-" + ProcessHandle.current().pid() + ".jfr");
    recording.enable("jdk.SocketRead").withThreshold(Duration.ZERO).withStackTrace();
    recording.enable("jdk.SocketWrite").withThreshold(Duration.ZERO).withStackTrace();
    recording.start();
    sampler = new Thread(this::sampleUntilClosed, "loopback-only-sampler");
    sampler.setDaemon(true);
    sampler.start();
  }

  /** Starts both witnesses; {@code work} holds the JFR file. */
  static LoopbackOnly watch(Path work) {
    return new LoopbackOnly(work);
  }

  /** Stops the witnesses; returns every peer seen as "address:port (witness)". */
  List<String> stop() throws IOException {
    if (running) {
      running = false;
      try {
        sampler.join(Duration.ofSeconds(10).toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      recording.stop();
      recording.dump(jfrFile);
      for (var event : RecordingFile.readAllEvents(jfrFile)) {
        if (event.getInt("port") != 0) { // 0: a Unix-domain socket
          peers.add(event.getString("address") + ":" + event.getInt("port") + " (jfr)");
        }
      }
      Files.deleteIfExists(jfrFile);
    }
    return List.copyOf(peers);
  }

  /** Samples taken so far: a test can check the sampler ran at all. */
  synchronized int samples() {
    return samples;
  }

  /** The peers that are not loopback (empty when all traffic stayed on this host's loopback). */
  static List<String> notLoopback(List<String> peers) throws UnknownHostException {
    var out = new ArrayList<String>();
    for (var peer : peers) {
      var address = peer.substring(0, peer.lastIndexOf(':'));
      if (!InetAddress.getByName(address.replace("[", "").replace("]", "")).isLoopbackAddress()) {
        out.add(peer);
      }
    }
    return out;
  }

  @Override
  public void close() throws IOException {
    stop();
    recording.close();
  }

  private void sampleUntilClosed() {
    while (running) {
      try {
        sample();
        Thread.sleep(EVERY.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (IOException | RuntimeException e) {
        // a process or socket went away between two reads: the next sample sees the rest
      }
    }
  }

  private void sample() throws IOException {
    var inodes = new HashSet<String>();
    socketInodes(ProcessHandle.current().pid(), inodes);
    ProcessHandle.current().descendants().forEach(p -> socketInodes(p.pid(), inodes));
    for (var table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
      for (var line : Files.readAllLines(Path.of(table))) {
        var f = line.trim().split("\\s+", -1);
        if (f.length > 9 && inodes.contains(f[9]) && !f[2].endsWith(":0000")) {
          peers.add(peer(f[2]) + " (proc)");
        }
      }
    }
    synchronized (this) {
      samples++;
    }
  }

  private static void socketInodes(long pid, Set<String> into) {
    try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      fds.forEach(fd -> {
        try {
          var m = SOCKET.matcher(Files.readSymbolicLink(fd).toString());
          if (m.matches()) {
            into.add(m.group(1));
          }
        } catch (IOException e) {
          // closed meanwhile
        }
      });
    } catch (IOException | java.io.UncheckedIOException e) {
      // the process exited meanwhile
    }
  }

  /** "0100007F:1F90" (little-endian words, as /proc prints them) to "127.0.0.1:8080". */
  static String peer(String hexAddressAndPort) throws UnknownHostException {
    var parts = hexAddressAndPort.split(":", -1);
    var hex = parts[0];
    var bytes = new byte[hex.length() / 2];
    for (int word = 0; word < bytes.length / 4; word++) {
      for (int i = 0; i < 4; i++) {
        int at = word * 8 + (3 - i) * 2;
        bytes[word * 4 + i] = (byte) Integer.parseInt(hex.substring(at, at + 2), 16);
      }
    }
    var address = InetAddress.getByAddress(bytes).getHostAddress();
    return (address.contains(":") ? "[" + address + "]" : address) + ":" + Integer.parseInt(parts[1], 16);
  }
}
