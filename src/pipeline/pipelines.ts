// Every pipeline of a run, run together in one process: a drain ends when each has drained its
// queue; a stop stops them all; a failure of one stops the others too, leaving what they hold to
// the visibility timeout as a run ending on a failure does (Pipeline.stop's `leave`).
import type { Pipeline } from './pipeline.js';

export class Pipelines {
  constructor(private readonly pipelines: readonly Pipeline[]) {
    // At once, not when the failed pipeline's run has ended: the others must not go on taking messages meanwhile.
    for (const pipeline of pipelines) pipeline.whenFatal(() => this.stop('fatal', { leave: true }));
  }

  stop(reason: string, options: { leave?: boolean } = {}): void {
    for (const pipeline of this.pipelines) pipeline.stop(reason, options);
  }

  /** Resolves when all have drained or stopped (`drained`: every one drained); rejects with the first failure. */
  async run(): Promise<{ drained: boolean }> {
    let failure: { error: unknown } | undefined;
    const results = await Promise.all(
      this.pipelines.map((pipeline) =>
        pipeline.run().catch((error: unknown) => {
          if (failure === undefined) {
            failure = { error };
            this.stop('fatal', { leave: true });
          }
          return { drained: false };
        }),
      ),
    );
    if (failure !== undefined) throw failure.error;
    return { drained: results.every((result) => result.drained) };
  }
}
