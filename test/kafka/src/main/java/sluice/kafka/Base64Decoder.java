package sluice.kafka;

import java.util.Base64;
import org.apache.kafka.tools.api.Decoder;

/**
 * A key/value decoder for Kafka's DumpLogSegments ({@code --key-decoder-class},
 * {@code --value-decoder-class}) that prints bytes as standard base64.
 *
 * <p>Kafka's default StringDecoder prints raw text, so a key or value holding a newline,
 * " payload: " or bytes that are not UTF-8 cannot be read back from the output. Base64 can:
 * test/helpers/kafka.ts parses it back into the exact bytes.
 */
public final class Base64Decoder implements Decoder<String> {
  @Override
  public String fromBytes(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }
}
