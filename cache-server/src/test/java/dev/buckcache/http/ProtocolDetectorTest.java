package dev.buckcache.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The detector alone: what decides, when, and that every byte reaches the side chosen. */
class ProtocolDetectorTest {
  private final Sink http = new Sink();
  private final Sink grpc = new Sink();
  private final EmbeddedChannel channel = new EmbeddedChannel(new ProtocolDetector(
      ctx -> ctx.pipeline().addLast("http", http), session -> grpc, Duration.ofSeconds(60)));

  /** Collects the bytes it is given. */
  static final class Sink extends ChannelInboundHandlerAdapter {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    boolean added;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      added = true;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      var b = (ByteBuf) msg;
      try {
        b.readBytes(bytes, b.readableBytes());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      } finally {
        b.release();
      }
    }
  }

  @AfterEach
  void noLeftovers() {
    assertThat(channel.finishAndReleaseAll()).isFalse();
  }

  private void send(String s) {
    channel.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1));
  }

  @Test
  void preface_byteByByte_waitsThenGoesToGrpcWithEveryByte() {
    var preface = new String(ProtocolDetector.PREFACE, StandardCharsets.US_ASCII);
    for (int i = 0; i < preface.length() - 1; i++) {
      send(preface.substring(i, i + 1));
      assertThat(grpc.added || http.added).as("decided after %d bytes", i + 1).isFalse();
    }
    send(preface.substring(preface.length() - 1) + "\u0000\u0000\u0000\u0004");
    assertThat(grpc.added).isTrue();
    assertThat(http.added).isFalse();
    assertThat(grpc.bytes.toString(StandardCharsets.ISO_8859_1)).isEqualTo(preface + "\u0000\u0000\u0000\u0004");
    assertThat(channel.pipeline().get(ProtocolDetector.class)).isNull();
  }

  @Test
  void firstByteThatDiffers_goesToHttpAtOnce_withWhatCameBefore() {
    send("PRI * HTTP/1.1\r\n");
    assertThat(http.added).isTrue();
    assertThat(grpc.added).isFalse();
    assertThat(http.bytes.toString(StandardCharsets.ISO_8859_1)).isEqualTo("PRI * HTTP/1.1\r\n");
    send("more");
    assertThat(http.bytes.toString(StandardCharsets.ISO_8859_1)).endsWith("more");
  }

  @Test
  void ordinaryRequest_isHttpOnItsFirstByte() {
    send("G");
    assertThat(http.added).isTrue();
    assertThat(channel.pipeline().get(ProtocolDetector.class)).isNull();
  }

  @Test
  void closedBeforeDeciding_releasesWhatWasRead() {
    send("PRI * HTTP/2");
    channel.close().syncUninterruptibly();
    assertThat(http.added || grpc.added).isFalse();
  }
}
