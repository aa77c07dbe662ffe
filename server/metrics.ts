// Prometheus metrics: requests and bytes by path class and status, and a
// latency histogram, exposed on /metrics (prom-client).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'class' | 'status'>;
  private readonly bytes: Counter<'class'>;
  private readonly latency: Histogram<'class'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'ots_http_requests_total', help: 'Repository requests', labelNames: ['class', 'status'], registers: [this.registry] });
    this.bytes = new Counter({ name: 'ots_http_response_bytes_total', help: 'Body bytes sent', labelNames: ['class'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'ots_http_request_duration_seconds', help: 'Handler latency', labelNames: ['class'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry],
    });
  }

  /** Label-bound children, cached: label hashing on every request measurably cost throughput (bench/serve.ts). */
  private readonly children = new Map<string, { requests: { inc: () => void }; bytes: { inc: (n: number) => void }; latency: { observe: (s: number) => void } }>();

  observe(cls: string, status: number, bytes: number, seconds: number): void {
    const key = `${cls}\0${status}`;
    let c = this.children.get(key);
    if (!c) {
      c = { requests: this.requests.labels(cls, String(status)), bytes: this.bytes.labels(cls), latency: this.latency.labels(cls) };
      this.children.set(key, c);
    }
    c.requests.inc();
    if (bytes > 0) c.bytes.inc(bytes);
    c.latency.observe(seconds);
  }
}
