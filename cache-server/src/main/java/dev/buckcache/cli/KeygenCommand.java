package dev.buckcache.cli;

import dev.buckcache.auth.Keys;
import dev.buckcache.auth.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code buckcache keygen}: an ES256 key pair for signing cache tokens. */
@Command(name = "keygen", mixinStandardHelpOptions = true,
    description = {"Creates an ES256 key pair: DIR/signing-key.pem (private, mode 0600, keep it "
        + "with the admin) and DIR/verify-key.pem (give it to the server: --jwt-public-key)."})
final class KeygenCommand implements Callable<Integer> {
  @Option(names = "--out", required = true, paramLabel = "DIR", description = "directory for the two files")
  Path out;

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(out);
    var signing = out.resolve("signing-key.pem");
    var verify = out.resolve("verify-key.pem");
    if (Files.exists(signing)) {
      System.err.println("buckcache: " + signing + " exists; refusing to overwrite a signing key");
      return Main.EXIT_CONFIG;
    }
    var keys = Keys.generateEs256();
    Files.createFile(signing, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(signing, Pem.encode(keys));
    Files.writeString(verify, Pem.encode(keys.getPublic()));
    System.out.println("wrote " + signing + " (private, 0600) and " + verify + "; key id "
        + Keys.kid(keys.getPublic()));
    return 0;
  }
}
