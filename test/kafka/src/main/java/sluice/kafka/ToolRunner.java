package sluice.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.internals.Exit;

/**
 * Runs the main methods of Kafka's command-line tools one after the other in this one JVM, as the
 * shell scripts would run them each in their own, so a test that runs many short commands (e.g.
 * kafka-consumer-groups.sh) does not start a JVM for each. Reads one JSON object a line from stdin,
 * {@code {"main": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "args": [...]}},
 * and answers each with one JSON line {@code {"code": exitCode, "stdout": "...", "stderr": "..."}}.
 *
 * <pre>
 * java -cp ... sluice.kafka.ToolRunner &lt; commands.jsonl
 * </pre>
 *
 * <p>The tool's System.out and System.err are captured while it runs. Kafka's {@code Exit.exit} and
 * {@code Exit.halt} end the run with their code instead of the JVM: the first call's code is the
 * exit code, and the output is what the tool had printed by then (a tool that catches the exception
 * this throws, e.g. GroupsCommand's catch (Throwable) around its own final Exit.exit, may print
 * more, which a real exit would never have let it print). A main that returns is exit 0, as the
 * JVM's would be; an exception escaping main is exit 1 with its stack trace on stderr.
 */
public final class ToolRunner {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final class ExitCalled extends RuntimeException {
    final int code;

    ExitCalled(int code) {
      super("exit " + code, null, false, false);
      this.code = code;
    }
  }

  /** The current run's output and its first Exit call: the code and how much had been printed. */
  private static ByteArrayOutputStream stdout;
  private static ByteArrayOutputStream stderr;
  private static Integer exitCode;
  private static int stdoutAtExit;
  private static int stderrAtExit;

  private static void exit(int code) {
    if (exitCode == null) {
      System.out.flush();
      System.err.flush();
      exitCode = code;
      stdoutAtExit = stdout.size();
      stderrAtExit = stderr.size();
    }
    throw new ExitCalled(code);
  }

  public static void main(String[] args) throws Exception {
    PrintStream realOut = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    PrintStream realErr = System.err;
    Exit.setExitProcedure((code, message) -> exit(code));
    Exit.setHaltProcedure((code, message) -> exit(code));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.isBlank()) continue;
      JsonNode command = JSON.readTree(line);
      List<String> toolArgs = new ArrayList<>();
      command.path("args").forEach(arg -> toolArgs.add(arg.asText()));
      stdout = new ByteArrayOutputStream();
      stderr = new ByteArrayOutputStream();
      exitCode = null;
      int code = 0;
      System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
      try {
        Method main = Class.forName(command.path("main").asText()).getMethod("main", String[].class);
        main.invoke(null, (Object) toolArgs.toArray(new String[0]));
      } catch (InvocationTargetException e) {
        Throwable cause = e.getCause();
        if (cause instanceof ExitCalled exit) {
          code = exit.code;
        } else {
          code = 1;
          StringWriter trace = new StringWriter();
          cause.printStackTrace(new PrintWriter(trace));
          System.err.print(trace);
        }
      } catch (ExitCalled exit) {
        code = exit.code;
      } catch (Exception e) {
        code = 1;
        System.err.println(e);
      } finally {
        System.out.flush();
        System.err.flush();
        System.setOut(realOut);
        System.setErr(realErr);
      }
      byte[] out = stdout.toByteArray();
      byte[] err = stderr.toByteArray();
      if (exitCode != null) {
        code = exitCode;
        out = java.util.Arrays.copyOf(out, stdoutAtExit);
        err = java.util.Arrays.copyOf(err, stderrAtExit);
      }
      ObjectNode answer = JSON.createObjectNode();
      answer.put("code", code);
      answer.put("stdout", new String(out, StandardCharsets.UTF_8));
      answer.put("stderr", new String(err, StandardCharsets.UTF_8));
      realOut.println(answer);
    }
  }
}
