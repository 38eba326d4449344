package esmchaos.crosscheck;

import com.amazonaws.services.lambda.runtime.events.KafkaEvent;
import com.amazonaws.services.lambda.runtime.serialization.PojoSerializer;
import com.amazonaws.services.lambda.runtime.serialization.events.LambdaEventSerializers;
import com.amazonaws.services.lambda.runtime.serialization.factories.JacksonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Reads every sample event in a folder as aws-lambda-java-events' {@link KafkaEvent}, the way the
 * Java Lambda runtime does, and prints one canonical JSON line per event (or an "error" line).
 *
 * <p>The runtime (aws-lambda-java-runtime-interface-client, EventHandlerLoader) takes
 * LambdaEventSerializers for the event classes that list names, and JacksonFactory otherwise;
 * both come from aws-lambda-java-serialization, so this follows the same choice.
 */
public final class CheckEvents {
    /** The folder holds at most this many samples; more is a sign of a wrong folder. */
    private static final int FILES_MAX = 10_000;

    private CheckEvents() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: CheckEvents <folder of sample events>");
            System.exit(2);
        }
        PojoSerializer<KafkaEvent> serializer = runtimeSerializer();
        ObjectMapper out = new ObjectMapper();
        for (Path file : sampleFiles(Path.of(args[0]))) {
            Map<String, Object> line;
            try (InputStream body = Files.newInputStream(file)) {
                line = canonical(serializer.fromJson(body));
            } catch (RuntimeException e) {
                line = new LinkedHashMap<>();
                line.put("error", "aws-lambda-java-events KafkaEvent: " + e);
            }
            Map<String, Object> named = new LinkedHashMap<>();
            named.put("file", file.getFileName().toString());
            named.putAll(line);
            System.out.println(out.writeValueAsString(named));
        }
    }

    private static PojoSerializer<KafkaEvent> runtimeSerializer() {
        String name = KafkaEvent.class.getName();
        if (LambdaEventSerializers.isLambdaSupportedEvent(name)) {
            System.err.println("java: " + name + " read by LambdaEventSerializers");
            return LambdaEventSerializers.serializerFor(KafkaEvent.class, CheckEvents.class.getClassLoader());
        }
        System.err.println("java: " + name + " read by JacksonFactory (not a LambdaEventSerializers event)");
        return JacksonFactory.getInstance().getSerializer(KafkaEvent.class);
    }

    private static List<Path> sampleFiles(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> sorted = files.filter(p -> p.toString().endsWith(".json")).sorted().limit(FILES_MAX + 1L).toList();
            if (sorted.size() > FILES_MAX) {
                throw new IOException(folder + " holds more than " + FILES_MAX + " samples");
            }
            return sorted;
        }
    }

    private static Map<String, Object> canonical(KafkaEvent event) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("eventSource", event.getEventSource());
        line.put("eventSourceArn", event.getEventSourceArn());
        line.put("bootstrapServers", event.getBootstrapServers());
        Map<String, List<KafkaEvent.KafkaEventRecord>> lists = event.getRecords() == null ? Map.of() : event.getRecords();
        List<String> keys = lists.keySet().stream().sorted().toList();
        line.put("recordKeys", keys);
        List<Map<String, Object>> records = new ArrayList<>();
        for (String key : keys) {
            for (KafkaEvent.KafkaEventRecord record : lists.get(key)) {
                records.add(canonicalRecord(key, record));
            }
        }
        line.put("records", records);
        return line;
    }

    private static Map<String, Object> canonicalRecord(String listKey, KafkaEvent.KafkaEventRecord r) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("list", listKey);
        out.put("topic", r.getTopic());
        out.put("partition", r.getPartition());
        out.put("offset", r.getOffset());
        out.put("timestamp", r.getTimestamp());
        out.put("timestampType", r.getTimestampType());
        out.put("key", hexOfBase64(r.getKey()));
        out.put("value", hexOfBase64(r.getValue()));
        List<Object> headers = new ArrayList<>();
        if (r.getHeaders() != null) {
            for (Map<String, byte[]> header : r.getHeaders()) {
                for (Map.Entry<String, byte[]> entry : header.entrySet()) {
                    List<Integer> signed = new ArrayList<>();
                    for (byte b : entry.getValue()) {
                        signed.add((int) b);
                    }
                    headers.add(List.of(entry.getKey(), signed));
                }
            }
        }
        out.put("headers", headers);
        return out;
    }

    /** A handler decodes key and value with java.util.Base64; null stays null. */
    private static String hexOfBase64(String text) {
        return text == null ? null : HexFormat.of().formatHex(java.util.Base64.getDecoder().decode(text));
    }
}
