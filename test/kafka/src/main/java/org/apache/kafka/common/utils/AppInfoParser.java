package org.apache.kafka.common.utils;

/**
 * A bridge for Kafka's connect-file and connect-mirror jars, which Maven Central has at 4.3.1 at
 * the newest: they call {@code org.apache.kafka.common.utils.AppInfoParser.getVersion()}, a class
 * Kafka 4.4.0 moved to {@code org.apache.kafka.common.utils.internals}. These static methods pass
 * the calls on to 4.4.0's class, so the 4.3.1 plugins run on the 4.4.0 Connect runtime and clients
 * (their version then reads 4.4.0). Nothing else of theirs is missing from 4.4.0 (checked with
 * javap over every class and method they reference; see docs/ecosystem.md).
 */
public final class AppInfoParser {
  private AppInfoParser() {}

  public static String getVersion() {
    return org.apache.kafka.common.utils.internals.AppInfoParser.getVersion();
  }

  public static String getCommitId() {
    return org.apache.kafka.common.utils.internals.AppInfoParser.getCommitId();
  }
}
