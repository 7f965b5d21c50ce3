package dev.buckcache.http;

import io.netty.handler.codec.http.QueryStringDecoder;

/**
 * A path of one of the other build tools' cache protocols, served beside bazel-remote's
 * {@code /ac/} and {@code /cas/}:
 *
 * <ul>
 *   <li>Gradle's HTTP build cache: {@code /[instance/]gradle/KEY};
 *   <li>Turborepo's remote cache API: {@code /[instance/]v8/artifacts/HASH?teamId=|slug=}, plus
 *       {@code /v8/artifacts/status} and {@code /v8/artifacts/events};
 *   <li>Nx's self-hosted remote cache: {@code /[instance/]v1/cache/HASH}.
 * </ul>
 *
 * The instance is what precedes the tool's part of the path; for Turborepo its team ({@code
 * teamId}, else {@code slug}) is appended to it, so each team has its own entries and grants.
 *
 * @param key the tool's own cache key; empty for the endpoints that name no artifact
 */
record ToolPath(Tool tool, Endpoint endpoint, String instance, String key) {
  /**
   * The tools; the name is the metrics {@code kind} and the access log's kind. The id is stored
   * with each artifact ({@link ToolArtifacts}): never reuse one.
   */
  enum Tool {
    GRADLE("gradle", 1),
    TURBO("turbo", 2),
    NX("nx", 3);

    final String kind;
    final byte id;

    Tool(String kind, int id) {
      this.kind = kind;
      this.id = (byte) id;
    }
  }

  enum Endpoint {
    ARTIFACT,
    /** Turborepo {@code GET /v8/artifacts/status}. */
    STATUS,
    /** Turborepo {@code POST /v8/artifacts/events}: cache usage events, accepted and dropped. */
    EVENTS
  }

  static final int MAX_KEY = 128;

  /** Thrown for a tool path that is malformed (400), with the reason and the tool. */
  static final class Invalid extends Exception {
    final Tool tool;

    Invalid(Tool tool, String message) {
      super(message, null, false, false);
      this.tool = tool;
    }
  }

  /** The tool path {@code uri} names, or null if it names none (then it may be a cache path). */
  static ToolPath parse(String uri) throws Invalid {
    // Every request passes here: a bazel-remote path is let go before anything is allocated.
    if (!uri.contains("gradle/") && !uri.contains("v1/cache/") && !uri.contains("v8/artifacts/")) {
      return null;
    }
    int q = uri.indexOf('?');
    var path = q < 0 ? uri : uri.substring(0, q);
    var segments = path.startsWith("/") ? path.substring(1) : path;
    var parts = segments.split("/", -1);
    int n = parts.length;
    if (n >= 2 && parts[n - 2].equals("gradle")) {
      return artifact(Tool.GRADLE, prefix(Tool.GRADLE, parts, n - 2), parts[n - 1]);
    }
    if (n >= 3 && parts[n - 3].equals("v1") && parts[n - 2].equals("cache")) {
      return artifact(Tool.NX, prefix(Tool.NX, parts, n - 3), parts[n - 1]);
    }
    if (n >= 3 && parts[n - 3].equals("v8") && parts[n - 2].equals("artifacts")) {
      var instance = turboInstance(prefix(Tool.TURBO, parts, n - 3), uri);
      return switch (parts[n - 1]) {
        case "status" -> new ToolPath(Tool.TURBO, Endpoint.STATUS, instance, "");
        case "events" -> new ToolPath(Tool.TURBO, Endpoint.EVENTS, instance, "");
        default -> artifact(Tool.TURBO, instance, parts[n - 1]);
      };
    }
    return null;
  }

  private static ToolPath artifact(Tool tool, String instance, String key) throws Invalid {
    if (!validKey(key)) {
      var shown = key.length() > 140 ? key.substring(0, 140) + "..." : key;
      throw new Invalid(tool, "malformed " + tool.kind + " cache key '" + shown + "': expected 1 to "
          + MAX_KEY + " characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    return new ToolPath(tool, Endpoint.ARTIFACT, instance, key);
  }

  private static String prefix(Tool tool, String[] parts, int end) throws Invalid {
    var instance = String.join("/", java.util.Arrays.copyOfRange(parts, 0, end));
    checkInstance(tool, instance);
    return instance;
  }

  private static String turboInstance(String prefix, String uri) throws Invalid {
    var query = new QueryStringDecoder(uri).parameters();
    var team = first(query.get("teamId"));
    if (team == null) {
      team = first(query.get("slug"));
    }
    if (team == null || team.isEmpty()) {
      return prefix;
    }
    if (!validKey(team)) {
      throw new Invalid(Tool.TURBO, "malformed Turborepo team '" + (team.length() > 140
          ? team.substring(0, 140) + "..." : team) + "': expected 1 to " + MAX_KEY
          + " characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    var instance = prefix.isEmpty() ? team : prefix + "/" + team;
    checkInstance(Tool.TURBO, instance);
    return instance;
  }

  private static String first(java.util.List<String> values) {
    return values == null || values.isEmpty() ? null : values.get(0);
  }

  private static void checkInstance(Tool tool, String instance) throws Invalid {
    if (instance.contains("//") || instance.contains("..") || instance.endsWith("/")) {
      throw new Invalid(tool, "malformed instance name '" + instance + "'");
    }
  }

  static boolean validKey(String key) {
    if (key.isEmpty() || key.length() > MAX_KEY || key.equals(".") || key.equals("..")) {
      return false;
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
