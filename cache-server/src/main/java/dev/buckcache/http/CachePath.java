package dev.buckcache.http;

import dev.buckcache.digest.DigestFunction;
import dev.buckcache.digest.Hex;

/**
 * A bazel-remote cache path, {@code /[instance/]{ac,cas}/HASH}, parsed once. The hash length picks
 * the digest function: 40 hex SHA-1, 96 SHA-384, 128 SHA-512, and 64 the instance's configured
 * function (SHA-256 unless digest.instances says BLAKE3).
 */
record CachePath(String instance, Kind kind, DigestFunction function, String hash) {
  enum Kind {
    AC,
    CAS
  }

  /** Why a path is not a cache path; {@code isCachePath} false means "not ours" (404). */
  record Problem(boolean isCachePath, String message) {}

  static final class Invalid extends Exception {
    final Problem problem;

    Invalid(boolean isCachePath, String message) {
      super(message, null, false, false);
      this.problem = new Problem(isCachePath, message);
    }
  }

  static CachePath parse(String uri, dev.buckcache.config.DigestConfig digests) throws Invalid {
    var path = uri;
    int query = path.indexOf('?');
    if (query >= 0) {
      path = path.substring(0, query);
    }
    if (path.startsWith("/")) {
      path = path.substring(1);
    }
    int slash = path.lastIndexOf('/');
    int kindSlash = slash <= 0 ? -1 : path.lastIndexOf('/', slash - 1);
    var kindText = slash < 0 ? "" : path.substring(kindSlash + 1, slash);
    if (!kindText.equals("ac") && !kindText.equals("cas")) {
      throw new Invalid(false, "no such path: buckcache serves /[instance/]ac/HASH, "
          + "/[instance/]cas/HASH, /status and /healthz");
    }
    var instance = kindSlash < 0 ? "" : path.substring(0, kindSlash);
    var hash = path.substring(slash + 1);
    var function = functionFor(digests, instance, hash);
    if (instance.contains("//") || instance.contains("..")) {
      throw new Invalid(true, "malformed instance name '" + instance + "'");
    }
    return new CachePath(instance, kindText.equals("ac") ? Kind.AC : Kind.CAS, function, hash);
  }

  private static DigestFunction functionFor(dev.buckcache.config.DigestConfig digests,
      String instance, String hash) throws Invalid {
    var function = Hex.isLowerHex(hash) ? digests.infer(instance, hash.length()) : null;
    if (function != null) {
      return function;
    }
    var shown = hash.length() > 140 ? hash.substring(0, 140) + "..." : hash;
    throw new Invalid(true, "malformed hash '" + shown + "': expected lower-case hex of length "
        + "64 (SHA-256 or BLAKE3), 40 (SHA-1), 96 (SHA-384) or 128 (SHA-512)");
  }
}
