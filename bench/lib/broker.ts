// The MQTT broker the API's outbox relay publishes to during a benchmark: the machine's own
// (BENCH_MQTT_URL, default Mosquitto on 127.0.0.1:1883) when one answers, else an embedded aedes.
import { startEmbeddedBroker } from "@celine/fakes";
import mqtt from "mqtt";

export async function brokerUrl(): Promise<{ url: string; kind: string; close(): Promise<void> }> {
  const url = process.env.BENCH_MQTT_URL ?? "mqtt://127.0.0.1:1883";
  try {
    const probe = await mqtt.connectAsync(url, { connectTimeout: 1_000, reconnectPeriod: 0 });
    await probe.endAsync();
    return { url, kind: `Mosquitto at ${new URL(url).host}`, close: async () => {} };
  } catch {
    const broker = await startEmbeddedBroker();
    return { url: broker.url, kind: "embedded aedes", close: broker.close };
  }
}
