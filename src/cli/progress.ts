/** A progress bar on stderr, drawn only when stderr is a terminal (and never into `--json` output). */
export class ProgressBar {
  private readonly tty: boolean;
  private last = -1;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = stream.isTTY === true && total > 0;
  }

  /** Shows `done` of the total. */
  update(done: number): void {
    if (!this.tty) return;
    const width = 30;
    const filled = Math.round((Math.min(done, this.total) / this.total) * width);
    if (filled === this.last && done !== this.total) return;
    this.last = filled;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    this.stream.write(`\r${this.label} ${bar} ${done}/${this.total}`);
  }

  /** Ends the line. */
  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}
