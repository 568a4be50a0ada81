// First SIGINT/SIGTERM: graceful stop (finish what is in hand, release the rest).
// Second: exit at once; nothing is lost, since uncommitted messages reappear after the visibility timeout.

export function stopOnSignals(stop: (reason: string) => void, onForce: () => void): () => void {
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) stop(`received ${signal}`);
    else onForce();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
