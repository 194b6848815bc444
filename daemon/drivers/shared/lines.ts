/**
 * Splits streamed text into lines without ever holding more than `maxLine` characters of one
 * line: the rest of an overlong line is counted, not kept, and the line is emitted cut with a
 * note. Linear in the input; an exception in `emit` is the caller's (the exec layer catches it).
 */
export class LineSplitter {
  private part = '';
  private dropped = 0;

  constructor(
    private readonly maxLine: number,
    private readonly emit: (line: string) => void,
  ) {}

  push(chunk: string): void {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      this.add(chunk.slice(from, nl));
      this.flushLine();
      from = nl + 1;
    }
    this.add(chunk.slice(from));
  }

  /** Emits what is left of a last line without a newline. */
  flush(): void {
    if (this.part !== '' || this.dropped > 0) this.flushLine();
  }

  private add(text: string): void {
    const room = this.maxLine - this.part.length;
    if (text.length <= room) this.part += text;
    else {
      this.part += text.slice(0, Math.max(0, room));
      this.dropped += text.length - Math.max(0, room);
    }
  }

  private flushLine(): void {
    const cut = this.dropped > 0 ? ` [... ${this.dropped} more characters on this line left out]` : '';
    this.emit(this.part + cut);
    this.part = '';
    this.dropped = 0;
  }
}
