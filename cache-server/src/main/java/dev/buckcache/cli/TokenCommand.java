package dev.buckcache.cli;

import dev.buckcache.auth.Keys;
import dev.buckcache.auth.Pem;
import dev.buckcache.auth.Scope;
import dev.buckcache.insight.AuditLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code buckcache token issue|inspect|revoke}: the admin's token tools. */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = "Issues, inspects and revokes cache tokens (JWTs).",
    subcommands = {TokenCommand.Issue.class, TokenCommand.Inspect.class, TokenCommand.Revoke.class})
final class TokenCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "issue", mixinStandardHelpOptions = true,
      description = "Prints a signed token on stdout. CI gets write, laptops read.")
  static final class Issue implements Callable<Integer> {
    @Option(names = "--key", required = true, paramLabel = "PEM", description = "signing-key.pem from keygen")
    Path key;

    @Option(names = "--subject", required = true, paramLabel = "NAME", description = "who the token is for")
    String subject;

    @Option(names = "--scope", required = true, paramLabel = "read|write|admin",
        description = "read: read all, upload CAS; write: also update the action cache")
    String scope;

    @Option(names = "--instance", paramLabel = "NAME", description = "limit to this instance (repeat for more)")
    List<String> instances = new ArrayList<>();

    @Option(names = "--ttl", defaultValue = "90d", paramLabel = "DURATION", description = "lifetime (default 90d)")
    String ttl;

    @Option(names = "--audience", paramLabel = "AUD", description = "aud claim (the server's --audience)")
    String audience;

    @Option(names = "--issuer", paramLabel = "ISS", description = "iss claim (the server's --issuer)")
    String issuer;

    @Override
    public Integer call() throws Exception {
      var keys = Pem.readKeyPair(key);
      var token = Keys.issue(keys, subject, Scope.parse(scope), instances,
          dev.buckcache.config.ConfigLoader.parseDurationPublic(ttl), audience, issuer, Instant.now());
      System.out.println(token);
      return 0;
    }
  }

  @Command(name = "inspect", mixinStandardHelpOptions = true,
      description = "Shows a token's header and claims. Does not check the signature.")
  static final class Inspect implements Callable<Integer> {
    @Parameters(paramLabel = "TOKEN")
    String token;

    @Override
    public Integer call() {
      try {
        System.out.println(Keys.inspect(token.trim()));
        var exp = com.auth0.jwt.JWT.decode(token.trim()).getExpiresAtAsInstant();
        if (exp != null) {
          System.out.println(exp.isBefore(Instant.now()) ? "expired at " + exp : "expires at " + exp);
        }
        return 0;
      } catch (com.auth0.jwt.exceptions.JWTDecodeException e) {
        System.err.println("buckcache: not a JWT");
        return Main.EXIT_CONFIG;
      }
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true,
      description = {"Adds a token id or a subject to the revocation file; a server started with "
          + "--revocation-file FILE stops accepting it within a second, no restart.",
          "With --purge (and --subject), then asks a server to delete the action-cache entries "
              + "that subject wrote (as buckcache purge does). Each revocation is recorded in "
              + "the audit log."})
  static final class Revoke implements Callable<Integer> {
    @Option(names = "--file", required = true, paramLabel = "FILE", description = "the revocation file")
    Path file;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Target target;

    static final class Target {
      @Option(names = "--jti", paramLabel = "ID", description = "one token (see token inspect)")
      String jti;

      @Option(names = "--subject", paramLabel = "NAME", description = "every token of a subject")
      String subject;
    }

    @Option(names = "--purge",
        description = "also delete the subject's action-cache entries on --server (POST /api/purge)")
    boolean purge;

    @Option(names = "--server", paramLabel = "http(s)://HOST:PORT",
        description = "with --purge: the server's HTTP port, e.g. http://127.0.0.1:8080")
    String server;

    @Option(names = "--token-env", paramLabel = "VAR",
        description = "with --purge: environment variable that holds an admin token")
    String tokenEnv;

    @Option(names = "--audit-log", paramLabel = "FILE",
        description = "where to append the audit line (default: audit.log next to --file)")
    Path auditLog;

    private final Map<String, String> env;

    Revoke() {
      this(System.getenv());
    }

    Revoke(Map<String, String> env) {
      this.env = env;
    }

    @Override
    public Integer call() throws Exception {
      PurgeCommand.Request request = null;
      if (purge) {
        if (target.jti != null) {
          System.err.println("buckcache: --purge needs --subject: entries record the subject "
              + "that wrote them, not the token id (revoke the token, then run buckcache purge "
              + "--written-by SUBJECT if the whole subject's entries should go)");
          return Main.EXIT_CONFIG;
        }
        if (server == null || tokenEnv == null) {
          System.err.println("buckcache: --purge needs --server URL and --token-env VAR "
              + "(the variable holding an admin token)");
          return Main.EXIT_CONFIG;
        }
        request = PurgeCommand.Request.check(server, tokenEnv, env);
        if (request == null) {
          return Main.EXIT_CONFIG;
        }
      } else if (server != null || tokenEnv != null) {
        System.err.println("buckcache: --server and --token-env are for --purge");
        return Main.EXIT_CONFIG;
      }
      var line = target.jti != null ? "jti " + target.jti : "sub " + target.subject;
      Files.writeString(file, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      System.out.println("revoked " + line.replace("jti ", "token ").replace("sub ", "subject "));

      var fields = new LinkedHashMap<String, Object>();
      fields.put(target.jti != null ? "jti" : "subject", target.jti != null ? target.jti : target.subject);
      fields.put("file", file.toAbsolutePath().toString());
      long purged = 0;
      if (request != null) {
        purged = PurgeCommand.purge(request, target.subject, null, false);
        fields.put("server", request.base().toString());
        fields.put("purged", purged >= 0 ? purged : null);
        if (purged < 0) {
          fields.put("purgeFailed", true);
        }
      }
      var audit = new AuditLog(auditLog != null ? auditLog
          : file.toAbsolutePath().resolveSibling("audit.log"));
      try {
        audit.record("revoke", System.getProperty("user.name"), fields);
      } catch (IOException e) {
        System.err.println("buckcache: revoked, but the audit line could not be written to "
            + audit.file() + ": " + e.getMessage());
        return Main.EXIT_FAILURE;
      }
      if (purged < 0) {
        System.err.println("buckcache: the revocation stands; the purge did not run: retry it "
            + "with buckcache purge --server " + request.base() + " --token-env " + tokenEnv
            + " --written-by " + target.subject);
        return Main.EXIT_FAILURE;
      }
      return 0;
    }
  }
}
