package dev.buckcache.insight;

import dev.buckcache.storage.MissCause;
import java.util.List;

/** The JSON of {@code /api/invocations}: field names as the API documents them. */
public final class InvocationJson {
  private InvocationJson() {}

  /** {@code {"invocations":[…]}}, in the order given. */
  public static String list(List<Invocation.View> views, boolean withSubjects) {
    var out = new StringBuilder("{\"invocations\":[");
    for (int i = 0; i < views.size(); i++) {
      if (i > 0) {
        out.append(',');
      }
      out.append(one(views.get(i), withSubjects));
    }
    return out.append("]}").toString();
  }

  /** One build; {@code subject} is null unless the viewer may see who called. */
  public static String one(Invocation.View v, boolean withSubject) {
    var causes = new Json();
    for (var cause : MissCause.values()) {
      causes.field(cause.label(), v.missCauses().getOrDefault(cause, 0L));
    }
    return new Json()
        .field("id", v.id())
        .field("tool", v.tool())
        .field("toolVersion", v.toolVersion())
        .field("subject", withSubject ? v.subject() : null)
        .field("started", v.started().toString())
        .field("lastSeen", v.lastSeen().toString())
        .field("finished", v.finished())
        .field("acLookups", v.acLookups())
        .field("acHits", v.acHits())
        .field("acMisses", v.acMisses())
        .field("hitRatio", Math.round(v.hitRatio() * 10_000) / 10_000.0)
        .field("integrityMisses", v.integrityMisses())
        .field("casBytesDown", v.casBytesDown())
        .field("casBytesUp", v.casBytesUp())
        .field("uploads", v.uploads())
        .field("uploadsRefused", v.uploadsRefused())
        .field("errors", v.errors())
        .field("missCauses", new Json.Raw(causes.close()))
        .field("topMissedMnemonics", new Json.Raw(counts(v.topMissedMnemonics())))
        .field("topMissedTargets", new Json.Raw(counts(v.topMissedTargets())))
        .close();
  }

  private static String counts(List<TopCounts.Count> counts) {
    var out = new StringBuilder("[");
    for (int i = 0; i < counts.size(); i++) {
      if (i > 0) {
        out.append(',');
      }
      out.append(new Json().field("name", counts.get(i).name())
          .field("misses", counts.get(i).count()).close());
    }
    return out.append(']').toString();
  }
}
