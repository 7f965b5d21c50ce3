package dev.buckcache.auth;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.Set;

/**
 * Who is calling, once authenticated.
 *
 * @param subject the token's subject (never the token itself)
 * @param scope what it may do
 * @param instances the instances it may touch; empty means all
 * @param expires when its token stops being valid (null: never)
 * @param emptyCache an anonymous caller served as an empty cache ({@code auth.anonymous miss}):
 *     it is permitted nothing, and front ends answer its reads as misses, its writes as refusals
 */
public record Principal(String subject, Scope scope, Set<String> instances, Instant expires,
    boolean emptyCache) {
  /** Everyone, when auth is off. */
  public static final Principal UNRESTRICTED = new Principal("anonymous", Scope.ADMIN, Set.of(), null);
  /** Callers without a token when anonymous reads are allowed. */
  public static final Principal ANONYMOUS_READER = new Principal("anonymous", Scope.READ, Set.of(), null);
  /** Callers without a usable token under {@code auth.anonymous miss}: they see nothing stored. */
  public static final Principal ANONYMOUS_MISS =
      new Principal("anonymous", Scope.READ, Set.of(), null, true);

  public Principal {
    requireNonNull(subject, "subject");
    requireNonNull(scope, "scope");
    instances = Set.copyOf(instances);
  }

  /** A caller that sees the store as it is. */
  public Principal(String subject, Scope scope, Set<String> instances, Instant expires) {
    this(subject, scope, instances, expires, false);
  }

  /** Whether this caller may do {@code access} in {@code instance}. */
  public boolean permits(Access access, String instance, boolean strictReadScope) {
    if (emptyCache) {
      return false; // not even reads: nothing stored, not even existence, is revealed to it
    }
    if (!instances.isEmpty() && !instances.contains(instance)) {
      return false;
    }
    return switch (access) {
      case READ -> true;
      case WRITE_CAS -> scope != Scope.READ || !strictReadScope;
      case WRITE_AC -> scope != Scope.READ;
    };
  }

  /** One line for a 403: who, with what scope, may not do what, where. */
  public String denial(Access access, String instance) {
    if (emptyCache) {
      return "anonymous callers see an empty, read-only cache (auth.anonymous miss)";
    }
    if (!instances.isEmpty() && !instances.contains(instance)) {
      return "token for '" + subject + "' is not granted instance '" + instance + "'";
    }
    return "token for '" + subject + "' (scope " + scope.label() + ") may not " + access.description();
  }
}
