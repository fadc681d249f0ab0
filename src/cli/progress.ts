// Progress bars for long work (big produce and consume runs, dump-log over many files): drawn on
// stderr only when it is a terminal, so pipes, files and tests see nothing of them. cli-progress
// (loaded only when a bar is drawn) does the drawing and the rate and ETA arithmetic.

export interface Progress {
  /** Adds to the count (records, bytes, files). */
  increment(by?: number): void;
  /** Moves the total, for work whose size becomes known on the way. */
  setTotal(total: number): void;
  stop(): void;
}

const silent: Progress = { increment() {}, setTotal() {}, stop() {} };

export interface ProgressOptions {
  /** The size of the work; 0 or undefined when unknown (a counter instead of a bar). */
  total?: number;
  /** What is counted: "records", "bytes", "files". */
  unit: string;
  /** Off with --no-progress or --json. */
  enabled?: boolean;
  /** Default: process.stderr. */
  stream?: NodeJS.WriteStream;
}

/** A progress bar on a TTY stderr, else one that draws nothing. */
export async function startProgress(options: ProgressOptions): Promise<Progress> {
  const stream = options.stream ?? process.stderr;
  if (options.enabled === false || !stream.isTTY) return silent;
  const { default: cliProgress } = await import("cli-progress");
  const known = (options.total ?? 0) > 0;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: known ? `{bar} {percentage}% | {value}/{total} ${options.unit} | {eta_formatted} left` : `{value} ${options.unit}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(options.total ?? 0, 0);
  return {
    increment: (by = 1) => bar.increment(by),
    setTotal: (total) => bar.setTotal(total),
    stop: () => bar.stop(),
  };
}
