// Sizes printed as GLib's g_format_size() prints them (what ostree's messages
// show): SI units, one decimal, a no-break space before the unit —
// "999 bytes", "1.5\u00a0kB", "12.3\u00a0MB" (checked against libglib).
const UNITS = ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

export function formatSize(bytes: number): string {
  if (bytes < 1000) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(1)}\u00a0${UNITS[i] as string}`;
}
