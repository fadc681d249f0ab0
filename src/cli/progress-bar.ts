// A one-line progress bar on a terminal stream (log recovery at start): redrawn in place with a
// carriage return at most every REDRAW_MS, shown only once the work has lasted SHOW_AFTER_MS
// (a quick start draws nothing), and erased when done.

const REDRAW_MS = 100;
const SHOW_AFTER_MS = 500;
const BAR_WIDTH = 30;

export class ProgressBar {
  readonly #startedAt = Date.now();
  #drawnAt = 0;
  #drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly unit: string,
  ) {}

  update(done: number, total: number, bytes?: number): void {
    const now = Date.now();
    if (now - this.#startedAt < SHOW_AFTER_MS || (now - this.#drawnAt < REDRAW_MS && done < total)) return;
    this.#drawnAt = now;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * BAR_WIDTH);
    const scanned = bytes === undefined ? "" : `, ${formatBytes(bytes)} scanned`;
    this.stream.write(
      `\r${this.label} [${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}] ${done}/${total} ${this.unit}${scanned} (${((now - this.#startedAt) / 1000).toFixed(1)} s)\u001b[K`,
    );
    this.#drawn = true;
  }

  /** Erases the bar (if it was drawn). */
  done(): void {
    if (this.#drawn) this.stream.write("\r\u001b[K");
    this.#drawn = false;
  }
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
