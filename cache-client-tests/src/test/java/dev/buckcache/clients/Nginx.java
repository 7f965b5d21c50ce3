package dev.buckcache.clients;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** nginx with WebDAV PUT on loopback: the classic "dumb" Bazel HTTP cache (PROTOCOLS.md). */
final class Nginx implements AutoCloseable {
  final int port;
  private final Process process;

  private Nginx(int port, Process process) {
    this.port = port;
    this.process = process;
  }

  static Nginx start(Path work) throws Exception {
    var nginx = Files.isExecutable(Path.of("/usr/sbin/nginx")) ? "/usr/sbin/nginx" : "nginx";
    int port;
    try (var s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    var data = Files.createDirectories(work.resolve("nginx-data"));
    boolean root = "root".equals(System.getProperty("user.name"));
    if (root) {
      for (var p : new Path[] {work, data}) {
        Files.setPosixFilePermissions(p, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
      }
    }
    var conf = work.resolve("nginx.conf");
    Files.writeString(conf, (root ? "user www-data;\n" : "") + """
        worker_processes 2;
        pid %1$s/nginx.pid;
        error_log %1$s/nginx-error.log;
        events { worker_connections 1024; }
        http {
          access_log off;
          sendfile on;
          client_body_temp_path %1$s/nginx-tmp;
          server {
            listen 127.0.0.1:%2$d;
            root %3$s;
            location / {
              dav_methods PUT;
              create_full_put_path on;
              client_max_body_size 0;
            }
          }
        }
        """.formatted(work, port, data));
    var process = new ProcessBuilder(nginx, "-c", conf.toString(), "-g", "daemon off;")
        .redirectErrorStream(true).redirectOutput(work.resolve("nginx.out").toFile()).start();
    for (int i = 0; i < 100; i++) {
      try {
        new Socket("127.0.0.1", port).close(); // it accepts connections: up
        return new Nginx(port, process);
      } catch (IOException e) {
        Thread.sleep(100);
      }
    }
    process.destroyForcibly();
    throw new IllegalStateException("nginx did not start: " + Files.readString(work.resolve("nginx.out")));
  }

  String url() {
    return "http://127.0.0.1:" + port;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
