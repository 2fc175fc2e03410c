/**
 * Reading a `/metrics` scrape in tests: the text parsed by a Prometheus text-format parser (not by
 * us), then looked up by name and labels.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format"

export interface Scrape {
  readonly text: string
  readonly families: ReadonlyMap<string, ParsedFamily>
  /** The family's type as the parser read it (`GAUGE`, `COUNTER`, …). */
  readonly type: (name: string) => string | undefined
  /** Every sample of a family whose labels include `labels`. */
  readonly samples: (name: string, labels?: Record<string, string>) => Array<{ readonly value: number; readonly labels: Record<string, string> }>
  /** The one sample of a family matching `labels`; throws unless there is exactly one. */
  readonly value: (name: string, labels?: Record<string, string>) => number
}

export const parseScrape = (text: string): Scrape => {
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f] as const))
  const samples = (name: string, labels: Record<string, string> = {}) => {
    const family = families.get(name)
    if (family === undefined) throw new Error(`no metric family ${name}`)
    return family.metrics
      .map((m) => ({ value: Number(m.value), labels: { ...(m.labels ?? {}) } }))
      .filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v))
  }
  return {
    text,
    families,
    type: (name) => families.get(name)?.type,
    samples,
    value: (name, labels) => {
      const found = samples(name, labels)
      if (found.length !== 1) throw new Error(`${name} ${JSON.stringify(labels ?? {})}: ${found.length} samples`)
      return found[0]!.value
    }
  }
}

/** GET `/metrics` from a monitor port and parse it. */
export const scrape = async (monitorPort: number): Promise<Scrape & { readonly contentType: string }> => {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`)
  const text = await res.text()
  return { ...parseScrape(text), contentType: res.headers.get("content-type") ?? "" }
}
