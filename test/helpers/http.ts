// Reading a worker's HTTP port from a test: GET with a deadline, and the exposition text's samples.

export interface HttpAnswer {
  status: number;
  body: string;
}

/** GET url; a refused connection or a timeout is status 0, so callers can wait for a change. */
export async function get(url: string, timeoutMs = 5_000): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/** The value of one series of Prometheus exposition text, e.g. 'sqs2pg_errors_total{stage="load",code="connection"}'. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
