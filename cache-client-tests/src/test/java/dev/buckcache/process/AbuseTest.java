package dev.buckcache.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clients that try to hold the server down: slow request heads, and floods of connections. */
class AbuseTest {
  @TempDir Path dir;

  @Test
  void slowloris_headsTrickledByteByByte_areCutAtTheIdleTimeout_othersServed() throws Exception {
    try (var server = ServerProcess.serve(dir.resolve("data"), "--http-idle-timeout", "2s")) {
      int port = URI.create(server.http()).getPort();
      var sockets = new ArrayList<Socket>();
      for (int i = 0; i < 20; i++) {
        var s = new Socket("127.0.0.1", port);
        s.getOutputStream().write("GET /healthz HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        sockets.add(s);
      }
      // One header byte per 200 ms per socket keeps each under any idle timer; the head never ends.
      long started = System.nanoTime();
      int open = sockets.size();
      var header = "X-Slow: abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\r\n"
          .getBytes(StandardCharsets.US_ASCII);
      for (int b = 0; b < header.length && open > 0; b++) {
        Thread.sleep(200);
        open = 0;
        for (var s : sockets) {
          if (!s.isClosed()) {
            try {
              s.getOutputStream().write(header[b]);
              s.getOutputStream().flush();
              open++;
            } catch (IOException e) {
              s.close(); // the server cut it
            }
          }
        }
        if (b == 5) {
          // Meanwhile a normal client is served.
          assertThat(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.http()
              + "/healthz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      System.out.printf("slowloris: %d of 20 trickling connections still open after %.1f s "
          + "(idle timeout 2 s, head complete after %.0f s)%n", open, seconds, header.length * 0.2);
      assertThat(open).as("connections trickling a head past the timeout").isZero();
      for (var s : sockets) {
        s.close();
      }
      server.stopAndCheck();
    }
  }

  @Test
  void connectionFlood_beyondTheLimitIsClosedAtOnce_fdsStayBounded_serverRecovers() throws Exception {
    try (var server = ServerProcess.serve(dir.resolve("data"), "--http-max-connections", "50")) {
      int port = URI.create(server.http()).getPort();
      long fdsBefore = fds(server);
      var flood = new ArrayList<Socket>();
      for (int i = 0; i < 300; i++) {
        flood.add(new Socket("127.0.0.1", port));
      }
      int answered = 0;
      int closed = 0;
      for (var s : flood) {
        s.setSoTimeout(5000);
        try {
          s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: c\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          var line = readLine(s.getInputStream());
          if (line.startsWith("HTTP/1.1 200")) {
            answered++;
          } else {
            closed++;
          }
        } catch (IOException e) {
          closed++;
        }
      }
      long fdsDuring = fds(server);
      System.out.printf("flood: 300 connections, limit 50: %d served, %d closed; server fds %d -> %d%n",
          answered, closed, fdsBefore, fdsDuring);
      assertThat(answered).isBetween(45, 50);
      assertThat(closed).isEqualTo(300 - answered);
      assertThat(fdsDuring - fdsBefore).isLessThanOrEqualTo(60);
      for (var s : flood) {
        s.close();
      }
      // Once the flood is gone, new clients are served again.
      int status = 0;
      for (int i = 0; i < 50 && status != 200; i++) {
        try {
          status = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.http()
              + "/healthz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (IOException e) {
          Thread.sleep(100);
        }
      }
      assertThat(status).isEqualTo(200);
      assertThat(server.output()).anyMatch(l -> l.contains("the limit (http.max_connections)"));
      server.stopAndCheck();
    }
  }

  private static long fds(ServerProcess server) throws IOException {
    try (var list = Files.list(Path.of("/proc", Long.toString(server.pid()), "fd"))) {
      return list.count();
    }
  }

  private static String readLine(InputStream in) throws IOException {
    var line = new StringBuilder();
    try {
      for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
        line.append((char) c);
      }
    } catch (SocketTimeoutException e) {
      return "timeout";
    }
    return line.toString();
  }
}
