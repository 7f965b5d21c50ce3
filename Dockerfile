# buckcache container image.
#
#   docker build -t buckcache .
#   docker run -d -p 8080:8080 -v buckcache-data:/data \
#     -e AUTH_TOKEN="$(openssl rand -hex 32)" buckcache
#
# 8080 is enough: it serves HTTP/1.1 (Bazel, ccache, curl) and gRPC (Buck2, Bazel, Pants:
# grpc://HOST:8080). 9092 serves gRPC alone, for setups that route by port; publish it with
# -p 9092:9092 if you want it.
#
# The server listens on 0.0.0.0 inside the container, so it refuses to start without auth:
# set AUTH_TOKEN (a static token with write scope), or BUCKCACHE_AUTH=jwt with
# BUCKCACHE_JWT_PUBLIC_KEYS pointing at a mounted key, or BUCKCACHE_INSECURE_NO_AUTH=true on a
# network you trust. Every setting is a BUCKCACHE_* variable (see README); arguments after the
# image name replace `serve` (e.g. `serve --max-size 50GB`, `token inspect TOKEN`).
#
# Both base images are build arguments, for registries that mirror them under other names.
ARG BUILD_IMAGE=maven:3.9-eclipse-temurin-17
ARG RUNTIME_IMAGE=eclipse-temurin:17-jre

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY pom.xml ./
COPY .mvn .mvn
COPY cache-server/pom.xml cache-server/
COPY cache-client-tests/pom.xml cache-client-tests/
COPY cache-server/src cache-server/src
RUN mvn -B -ntp -Dstyle.color=never -DskipTests -pl cache-server -am package \
    && cp cache-server/target/buckcache.jar /buckcache.jar

FROM ${RUNTIME_IMAGE}
RUN groupadd --system --gid 10001 buckcache \
    && useradd --system --uid 10001 --gid buckcache --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin buckcache \
    && mkdir -p /data /opt/buckcache \
    && chown buckcache:buckcache /data
COPY --from=build /buckcache.jar /opt/buckcache/buckcache.jar
COPY scripts/memory-flags /opt/buckcache/memory-flags
# Start-up: a class-data-sharing archive (AppCDS) of the classes a server start loads, made by
# one training start of this image's own JVM on loopback: the port opens in about 1.0 s instead
# of 1.7 s. A JVM that cannot use the archive ignores it.
RUN java -XX:ArchiveClassesAtExit=/opt/buckcache/buckcache.jsa -Xlog:cds=off -Xlog:cds+dynamic=off \
      -jar /opt/buckcache/buckcache.jar serve --dir /tmp/train \
      --http-address 127.0.0.1:0 --grpc-address 127.0.0.1:0 >/tmp/train.log 2>&1 & \
    pid=$!; i=0; \
    while [ $i -lt 300 ] && ! grep -q "buckcache ready" /tmp/train.log; do i=$((i + 1)); sleep 0.1; done; \
    kill -TERM $pid; wait $pid; \
    test -s /opt/buckcache/buckcache.jsa || { cat /tmp/train.log; exit 1; }; \
    rm -rf /tmp/train /tmp/train.log
USER 10001:10001
WORKDIR /data
# Half the container's memory for the heap: RocksDB and direct buffers (Netty's, the memory tier's)
# live outside it.
# BUCKCACHE_MEMORY_LIMIT (or --memory-limit) sizes heap, direct buffers and RocksDB from one
# number instead; set it a tenth under the container's limit (see README, "Memory").
ENV BUCKCACHE_DIR=/data \
    BUCKCACHE_HTTP_ADDRESS=0.0.0.0:8080 \
    BUCKCACHE_GRPC_ADDRESS=0.0.0.0:9092 \
    JAVA_OPTS="-XX:MaxRAMPercentage=50 -XX:+ExitOnOutOfMemoryError"
VOLUME ["/data"]
EXPOSE 8080 9092
# No curl in a JRE image: the jar asks its own /healthz (port and TLS from the BUCKCACHE_* env).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["java", "-Xmx32m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", \
         "-jar", "/opt/buckcache/buckcache.jar", "healthcheck"]
# A shell only to expand JAVA_OPTS and the memory limit's JVM options (memory-flags); exec leaves
# java as PID 1, so `docker stop` (SIGTERM) gets the graceful shutdown.
ENTRYPOINT ["/bin/sh", "-c", "mem=$(/opt/buckcache/memory-flags --for \"$@\") || exit 2; exec java -XX:SharedArchiveFile=/opt/buckcache/buckcache.jsa -Xlog:cds=off $mem $JAVA_OPTS -jar /opt/buckcache/buckcache.jar \"$@\"", "buckcache"]
CMD ["serve"]
