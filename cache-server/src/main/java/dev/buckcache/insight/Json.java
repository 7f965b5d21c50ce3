package dev.buckcache.insight;

/** A small JSON object writer: strings escaped, numbers and booleans as they are, nesting as raw. */
public final class Json {
  private final StringBuilder out = new StringBuilder("{");
  private boolean first = true;

  public Json field(String name, Object value) {
    if (!first) {
      out.append(',');
    }
    first = false;
    quote(out, name).append(':');
    if (value == null) {
      out.append("null");
    } else if (value instanceof Number || value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Raw raw) {
      out.append(raw.json());
    } else {
      quote(out, value.toString());
    }
    return this;
  }

  public String close() {
    return out.append('}').toString();
  }

  /** Already-rendered JSON (an object or array) to nest as it is. */
  public record Raw(String json) {}

  public static StringBuilder quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c)); // safe inside HTML too
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"');
  }
}
