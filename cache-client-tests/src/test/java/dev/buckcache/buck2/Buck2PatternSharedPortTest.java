package dev.buckcache.buck2;

import dev.buckcache.process.ServerProcess;
import org.junit.jupiter.api.BeforeAll;

/** Buck2's call pattern against the HTTP port, which serves gRPC too (the one-port setup). */
class Buck2PatternSharedPortTest extends Buck2PatternTest {
  @BeforeAll
  static void start() throws Exception {
    server = ServerProcess.serve(dir.resolve("data"), "--max-size", "2GB", "--memory-size", "64MB");
    channel = Buck2Client.channel("127.0.0.1", server.httpPort());
  }
}
