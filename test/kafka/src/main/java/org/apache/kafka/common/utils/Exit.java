package org.apache.kafka.common.utils;

/**
 * A bridge for Kafka's connect-mirror 4.3.1 jar (its MirrorMaker driver calls {@code Exit.exit} and
 * {@code Exit.addShutdownHook}), a class Kafka 4.4.0 moved to {@code org.apache.kafka.common.utils.internals}:
 * see {@link AppInfoParser}.
 */
public final class Exit {
  private Exit() {}

  public static void exit(int statusCode) {
    org.apache.kafka.common.utils.internals.Exit.exit(statusCode);
  }

  public static void exit(int statusCode, String message) {
    org.apache.kafka.common.utils.internals.Exit.exit(statusCode, message);
  }

  public static void halt(int statusCode) {
    org.apache.kafka.common.utils.internals.Exit.halt(statusCode);
  }

  public static void addShutdownHook(String name, Runnable runnable) {
    org.apache.kafka.common.utils.internals.Exit.addShutdownHook(name, runnable);
  }
}
